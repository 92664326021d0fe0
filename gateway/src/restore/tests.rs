use super::*;
use crate::registry::Registry;
use crate::test_fixtures::{gateway, message_handler, settings};
use std::path::Path;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::Manifest;
use wasmgate_pool::{OriginalStore, Pool};

/// Leaves in `data_dir` what a deploy of `name` leaves (artifact, original, record), with the
/// record as `change` makes it, before any gateway opens the dir.
async fn deployed_before(
    data_dir: &Path,
    key: &SigningKey,
    name: &str,
    change: impl FnOnce(&mut Record, &OriginalStore),
) -> Record {
    let settings = settings(data_dir, key);
    let pool = Pool::open(&settings.pool, &data_dir.join("artifacts")).unwrap();
    let originals = OriginalStore::open(data_dir.join("originals")).unwrap();
    let registry = Registry::open(&data_dir.join("registry.redb"), 10).unwrap();
    let options = SignOptions {
        name: name.into(),
        ..SignOptions::default()
    };
    let module =
        wasmgate_claims::sign(&message_handler(), key, &options, SystemTime::now()).unwrap();
    let compiled = pool.compile(&module, CapabilitySet::NONE).unwrap();
    let original = originals.write(&module).unwrap();
    let verified = wasmgate_claims::verify(&module, &[key.issuer()], SystemTime::now()).unwrap();
    let mut record = Record {
        name: name.into(),
        version: 1,
        digest: original.to_string(),
        size: module.len() as u64,
        artifact: compiled.artifact.to_string(),
        artifact_size: compiled.artifact_size,
        compile_ms: 1.0,
        deployed_at: "2026-01-01T00:00:00Z".into(),
        manifest: Manifest::default(),
        claims: verified.claims,
        token: verified.token,
        original: Some(original.to_string()),
        engine: Some(pool.engine_fingerprint().to_owned()),
        kv_layout: crate::registry::KvLayout::Owner,
        cluster_revision: None,
        adopted_from: None,
    };
    change(&mut record, &originals);
    registry.put(&record).unwrap();
    record
}

fn down_code(gw: &Gateway, name: &str) -> Option<&'static str> {
    let snapshot = gw.catalog.snapshot();
    let deployed = snapshot.function(name).expect("still registered");
    deployed.down.as_ref().map(|cause| cause.classify().1)
}

fn files(data_dir: &Path, folder: &str) -> usize {
    std::fs::read_dir(data_dir.join(folder)).unwrap().count()
}

#[tokio::test]
async fn a_verified_function_with_a_fitting_artifact_serves_as_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    let before = deployed_before(dir.path(), &key, "hello", |_, _| {}).await;
    let gw = gateway(dir.path(), &key).await;
    assert_eq!(down_code(&gw, "hello"), None);
    assert_eq!(gw.metrics.artifacts_rebuilt.get(), 0);
    assert_eq!(gw.registry.all().unwrap(), vec![before]);
}

#[tokio::test]
async fn an_artifact_from_another_engine_is_rebuilt_and_recorded_durably() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    deployed_before(dir.path(), &key, "hello", |record, _| {
        record.engine = Some("an engine of another wasmtime".into());
        // As if the old engine had produced other bytes: the new artifact replaces it.
        record.artifact = Digest::of(b"old artifact").to_string();
    })
    .await;
    let gw = gateway(dir.path(), &key).await;
    assert_eq!(down_code(&gw, "hello"), None);
    assert_eq!(gw.metrics.artifacts_rebuilt.get(), 1);
    let records = gw.registry.all().unwrap();
    assert_eq!(
        records[0].engine.as_deref(),
        Some(gw.pool.engine_fingerprint())
    );
    let artifact = Digest::parse(&records[0].artifact).unwrap();
    assert_ne!(artifact, Digest::of(b"old artifact"));
    assert_eq!(files(dir.path(), "artifacts"), 1);
}

#[tokio::test]
async fn a_tampered_original_takes_its_function_down_and_keeps_its_files() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    deployed_before(dir.path(), &key, "hello", |record, originals| {
        let digest = Digest::parse(record.original.as_deref().unwrap()).unwrap();
        let mut bytes = originals.read(&digest).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(originals.path(&digest), bytes).unwrap();
    })
    .await;
    let gw = gateway(dir.path(), &key).await;
    assert_eq!(down_code(&gw, "hello"), Some("module_tampered"));
    assert_eq!(
        (
            files(dir.path(), "artifacts"),
            files(dir.path(), "originals")
        ),
        (1, 1)
    );
}

#[tokio::test]
async fn a_missing_original_takes_its_function_down_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    deployed_before(dir.path(), &key, "hello", |record, originals| {
        let digest = Digest::parse(record.original.as_deref().unwrap()).unwrap();
        originals.remove(&digest).unwrap();
    })
    .await;
    let gw = gateway(dir.path(), &key).await;
    assert_eq!(down_code(&gw, "hello"), Some("original_unavailable"));
    let snapshot = gw.catalog.snapshot();
    let refused = snapshot.function("hello").unwrap().serving().unwrap_err();
    assert_eq!(refused.classify().0, http::StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn an_issuer_no_longer_trusted_takes_its_functions_down() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (SigningKey::generate(), SigningKey::generate());
    deployed_before(dir.path(), &old, "hello", |_, _| {}).await;
    let gw = gateway(dir.path(), &new).await;
    assert_eq!(down_code(&gw, "hello"), Some("untrusted_issuer"));
    let snapshot = gw.catalog.snapshot();
    let refused = snapshot.function("hello").unwrap().serving().unwrap_err();
    assert_eq!(refused.classify().0, http::StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_record_from_before_originals_serves_unless_its_recorded_claims_lapsed() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    for (name, exp) in [("old", None), ("lapsed", Some(1))] {
        deployed_before(dir.path(), &key, name, |record, originals| {
            let digest = Digest::parse(record.original.as_deref().unwrap()).unwrap();
            originals.remove(&digest).unwrap();
            record.original = None;
            record.engine = None;
            record.claims.exp = exp;
        })
        .await;
    }
    let gw = gateway(dir.path(), &key).await;
    assert_eq!(down_code(&gw, "old"), None);
    assert_eq!(down_code(&gw, "lapsed"), Some("expired"));
}

#[tokio::test]
async fn originals_no_record_names_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    deployed_before(dir.path(), &key, "hello", |_, originals| {
        // A deploy killed between storing its original and writing its record.
        originals.write(b"an original never recorded").unwrap();
    })
    .await;
    assert_eq!(files(dir.path(), "originals"), 2);
    let _gw = gateway(dir.path(), &key).await;
    assert_eq!(files(dir.path(), "originals"), 1);
}
