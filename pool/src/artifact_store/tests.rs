use super::*;

#[test]
fn written_artifacts_are_named_by_their_digest_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path()).unwrap();
    let digest = store.write(b"artifact bytes").unwrap();
    assert_eq!(digest, Digest::of(b"artifact bytes"));
    assert_eq!(fs::read(store.path(&digest)).unwrap(), b"artifact bytes");
    assert_eq!(store.size(&digest).unwrap(), 14);

    let reopened = ArtifactStore::open(dir.path()).unwrap();
    assert_eq!(
        reopened.verified_path(&digest).unwrap(),
        store.path(&digest)
    );
}

#[test]
fn a_tampered_artifact_is_refused_on_first_load() {
    let dir = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(dir.path()).unwrap();
    let digest = store.write(b"good").unwrap();
    fs::write(store.path(&digest), b"evil").unwrap();
    let fresh = ArtifactStore::open(dir.path()).unwrap();
    assert!(matches!(
        fresh.verified_path(&digest),
        Err(Error::Artifact { .. })
    ));
}

#[test]
fn temp_debris_is_removed_and_retain_keeps_only_live_digests() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join(".tmp-crashed"), b"half").unwrap();
    let store = ArtifactStore::open(dir.path()).unwrap();
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
    let store = ArtifactStore::open(&artifacts).unwrap();
    let digest = store.write(b"code").unwrap();
    assert_eq!(mode(&artifacts), 0o700);
    assert_eq!(mode(&store.path(&digest)), 0o600);
}
