use super::*;
use std::os::unix::fs::symlink;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn a_new_dir_and_its_parents_are_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/b");
    create_dir(&dir).unwrap();
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&tmp.path().join("a")), 0o700);
}

#[test]
fn an_existing_loose_dir_is_narrowed_and_a_tight_one_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let loose = tmp.path().join("loose");
    fs::create_dir(&loose).unwrap();
    fs::set_permissions(&loose, Permissions::from_mode(0o755)).unwrap();
    create_dir(&loose).unwrap();
    assert_eq!(mode(&loose), 0o700);
    let tighter = tmp.path().join("tighter");
    fs::create_dir(&tighter).unwrap();
    fs::set_permissions(&tighter, Permissions::from_mode(0o500)).unwrap();
    create_dir(&tighter).unwrap();
    assert_eq!(mode(&tighter), 0o500);
}

#[test]
fn a_new_file_is_owner_only_and_an_existing_one_keeps_its_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let new = tmp.path().join("new.redb");
    create_file(&new).unwrap();
    assert_eq!((mode(&new), fs::read(&new).unwrap().len()), (0o600, 0));
    let old = tmp.path().join("old.redb");
    fs::write(&old, b"data").unwrap();
    fs::set_permissions(&old, Permissions::from_mode(0o644)).unwrap();
    create_file(&old).unwrap();
    assert_eq!(
        (mode(&old), fs::read(&old).unwrap()),
        (0o600, b"data".to_vec())
    );
}

#[test]
fn files_opened_with_the_options_are_created_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("token");
    options().create_new(true).open(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn tighten_narrows_every_loose_entry_reports_them_and_leaves_links_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("data");
    let sub = root.join("artifacts");
    fs::create_dir_all(&sub).unwrap();
    let loose_file = sub.join("x.cwasm");
    let tight_file = root.join("registry.redb");
    let outside = tmp.path().join("outside");
    fs::write(&loose_file, b"x").unwrap();
    fs::write(&tight_file, b"x").unwrap();
    fs::write(&outside, b"x").unwrap();
    symlink(&outside, root.join("link")).unwrap();
    for (path, mode) in [
        (&root, 0o755),
        (&sub, 0o775),
        (&loose_file, 0o644),
        (&tight_file, 0o600),
        (&outside, 0o644),
    ] {
        fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
    }
    let changed = tighten(&root).unwrap();
    let seen: Vec<(PathBuf, u32, u32)> = changed
        .into_iter()
        .map(|n| (n.path, n.was, n.now))
        .collect();
    assert_eq!(
        seen,
        [
            (root.clone(), 0o755, 0o700),
            (sub.clone(), 0o775, 0o700),
            (loose_file.clone(), 0o644, 0o600),
        ]
    );
    assert_eq!(mode(&tight_file), 0o600);
    assert_eq!(
        mode(&outside),
        0o644,
        "a link's target is not the data dir's"
    );
    assert!(
        tighten(&root).unwrap().is_empty(),
        "a second pass changes nothing"
    );
}
