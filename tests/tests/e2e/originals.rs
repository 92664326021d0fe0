//! Signed originals kept beside artifacts: a restart re-verifies each function's original against
//! today's trusted issuers and clock, rebuilds an artifact another engine configuration compiled,
//! and keeps a function that fails registered but down, with its reason.

use crate::{DEADLINE, error_code};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_tests::{Gateway, eventually, guests};

/// A memory guard other than the default: part of the compiled code, so artifacts compiled with
/// it do not load into an engine with the default, and the other way round.
const SMALL_GUARD: &str = "[pool]\nmemory_guard = \"64KiB\"\n";

/// Status and body of `GET /fn/{name}`.
async fn call(gw: &Gateway, name: &str) -> reqwest::Response {
    gw.client()
        .get(gw.url(&format!("/fn/{name}")))
        .send()
        .await
        .unwrap()
}

/// The one file in the data dir's `folder`.
fn only_file(gw: &Gateway, folder: &str) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(gw.data_dir().join(folder))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{folder}: {files:?}");
    files.into_iter().next().unwrap()
}

/// Asserts `name` is listed and described as down with `code`, and refuses a call with `status`
/// and the same code.
async fn assert_down(gw: &Gateway, name: &str, status: u16, code: &str) {
    let described = gw.function(name).await.unwrap();
    assert_eq!(described["status"], "down", "{described}");
    assert_eq!(described["reason"]["code"], code, "{described}");
    assert!(
        described["reason"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{described}"
    );
    let listed = gw.functions().await.unwrap();
    let entry = listed.iter().find(|f| f["name"] == name).unwrap();
    assert_eq!(entry["status"], "down");
    assert_eq!(entry["reason"]["code"], code);
    assert_eq!(
        error_code(call(gw, name).await).await,
        (status, code.to_owned())
    );
    let down = gw
        .counter("wasmgate_functions", &[("state", "down")])
        .await
        .unwrap();
    assert_eq!(down, 1.0);
}

#[tokio::test]
async fn an_artifact_from_another_engine_configuration_is_rebuilt_at_start_and_serves() {
    let mut gw = Gateway::builder()
        .config_toml(SMALL_GUARD)
        .capture_logs()
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    assert_eq!(call(&gw, "hello").await.status(), 200);
    let old_artifact = only_file(&gw, "artifacts");

    // The same data dir under an engine with the default guard, as after an upgrade.
    gw.set_config_toml("").unwrap();
    gw.restart().await.unwrap();

    let response = call(&gw, "hello").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello from wasmgate\n");
    assert_eq!(gw.function("hello").await.unwrap()["status"], "serving");
    let rebuilt = gw
        .counter("wasmgate_artifacts_rebuilt_total", &[])
        .await
        .unwrap();
    assert_eq!(rebuilt, 1.0);
    assert!(
        gw.logs()
            .iter()
            .any(|l| l.contains("rebuilt the artifact") && l.contains("hello")),
        "no rebuild logged"
    );
    let new_artifact = only_file(&gw, "artifacts");
    assert_ne!(new_artifact, old_artifact, "the old artifact stayed");

    // Nothing is rebuilt twice: the record now names the new artifact and this engine.
    gw.restart().await.unwrap();
    assert_eq!(call(&gw, "hello").await.status(), 200);
    let rebuilt = gw
        .counter("wasmgate_artifacts_rebuilt_total", &[])
        .await
        .unwrap();
    assert_eq!(rebuilt, 0.0);
}

#[tokio::test]
async fn a_tampered_original_is_refused_at_start_and_the_function_stays_down_with_its_reason() {
    let mut gw = Gateway::builder()
        .config_toml(SMALL_GUARD)
        .start()
        .await
        .unwrap();
    let signed = gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap();
    assert_eq!(
        gw.deploy_bytes("hello", signed.clone())
            .await
            .unwrap()
            .status(),
        201
    );
    gw.kill().await.unwrap();
    let original = only_file(&gw, "originals");
    let mut bytes = std::fs::read(&original).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&original, bytes).unwrap();

    // An upgrade: the artifact no longer fits, and the original may not be rebuilt from.
    gw.set_config_toml("").unwrap();
    gw.restart().await.unwrap();
    assert_down(&gw, "hello", 403, "module_tampered").await;
    let rebuilt = gw
        .counter("wasmgate_artifacts_rebuilt_total", &[])
        .await
        .unwrap();
    assert_eq!(rebuilt, 0.0);

    // It stays down across restarts, and a deploy brings it back.
    gw.restart().await.unwrap();
    assert_down(&gw, "hello", 403, "module_tampered").await;
    assert_eq!(
        gw.deploy_bytes("hello", signed).await.unwrap().status(),
        200
    );
    assert_eq!(call(&gw, "hello").await.status(), 200);
    assert_eq!(gw.function("hello").await.unwrap()["status"], "serving");
}

#[tokio::test]
async fn an_expired_function_stops_serving_at_restart_and_says_so() {
    let mut gw = Gateway::builder().start().await.unwrap();
    // Long enough for the first call to come in before `exp` on a loaded machine (every call
    // checks it), short enough to wait out.
    let options = SignOptions {
        expires_in: Some(Duration::from_secs(6)),
        ..SignOptions::default()
    };
    let signed = gw.sign_with(guests::HTTP_HELLO, "brief", options).unwrap();
    assert_eq!(
        gw.deploy_bytes("brief", signed).await.unwrap().status(),
        201
    );
    assert_eq!(call(&gw, "brief").await.status(), 200);
    let exp = gw.function("brief").await.unwrap()["claims"]["exp"]
        .as_u64()
        .unwrap();
    eventually(
        "the signature expired",
        DEADLINE,
        || async {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        },
        |now| *now > exp,
    )
    .await
    .unwrap();

    gw.restart().await.unwrap();
    assert_down(&gw, "brief", 403, "expired").await;
    let queued = gw
        .client()
        .post(gw.url("/async/brief/"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(queued).await, (403, "expired".to_owned()));
}

#[tokio::test]
async fn a_function_whose_issuer_is_no_longer_trusted_stops_serving_at_restart() {
    let mut gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    gw.trust_only(&[SigningKey::generate().issuer().to_string()]);
    gw.restart().await.unwrap();
    assert_down(&gw, "hello", 403, "untrusted_issuer").await;
    // Its files stay: trusting the issuer again serves it.
    gw.trust_only(&[gw.key().issuer().to_string()]);
    gw.restart().await.unwrap();
    assert_eq!(call(&gw, "hello").await.status(), 200);
}
