use super::*;
use std::path::Path;

#[test]
fn written_artifacts_are_named_by_their_digest_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path(), Kind::Artifacts).unwrap();
    let digest = store.write(b"artifact bytes").unwrap();
    assert_eq!(digest, Digest::of(b"artifact bytes"));
    assert_eq!(fs::read(store.path(&digest)).unwrap(), b"artifact bytes");
    assert_eq!(store.size(&digest).unwrap(), 14);

    let reopened = ContentStore::open(dir.path(), Kind::Artifacts).unwrap();
    assert_eq!(
        reopened.verified_path(&digest).unwrap(),
        store.path(&digest)
    );
}

#[test]
fn a_tampered_artifact_is_refused_on_first_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path(), Kind::Artifacts).unwrap();
    let digest = store.write(b"good").unwrap();
    fs::write(store.path(&digest), b"evil").unwrap();
    let fresh = ContentStore::open(dir.path(), Kind::Artifacts).unwrap();
    assert!(matches!(
        fresh.verified_path(&digest),
        Err(Error::Artifact { .. })
    ));
}

#[test]
fn temp_debris_is_removed_and_retain_keeps_only_live_digests() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".tmp-crashed"), b"half").unwrap();
    let store = ContentStore::open(dir.path(), Kind::Artifacts).unwrap();
    assert!(!dir.path().join(".tmp-crashed").exists());
    let a = store.write(b"a").unwrap();
    let b = store.write(b"b").unwrap();
    let keep: HashSet<Digest> = [a].into_iter().collect();
    assert_eq!(store.retain(&keep).unwrap(), 1);
    assert!(store.path(&a).exists());
    assert!(!store.path(&b).exists());
}

#[test]
fn the_store_and_its_artifacts_are_private_to_the_gateway() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = tempfile::tempdir().unwrap();
    let artifacts = dir.path().join("artifacts");
    let store = ContentStore::open(&artifacts, Kind::Artifacts).unwrap();
    let digest = store.write(b"code").unwrap();
    assert_eq!(mode(&artifacts), 0o700);
    assert_eq!(mode(&store.path(&digest)), 0o600);
}

#[test]
fn originals_live_under_their_own_extension_and_errors_name_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = ContentStore::open(dir.path(), Kind::Originals).unwrap();
    let digest = store.write(b"signed component").unwrap();
    assert_eq!(
        store.path(&digest).file_name().unwrap().to_str().unwrap(),
        format!("{}.wasm", digest.hex())
    );
    assert_eq!(store.read(&digest).unwrap(), b"signed component");
    assert_eq!(store.total_bytes().unwrap(), 16);
    store.remove(&digest).unwrap();
    assert!(matches!(store.read(&digest), Err(Error::Original { .. })));
    assert_eq!(store.total_bytes().unwrap(), 0);
}
