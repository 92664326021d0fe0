//! Admission end to end: every refusal code of a deploy, capability grants, and policies at deploy,
//! at execute and across a SIGHUP reload. Each refused deploy must leave the old version serving.

use crate::error_code;
use serde_json::Value;
use std::time::{Duration, SystemTime};
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

crate::covers!(caps_fetch);

/// Deploys the hello guest as `hello` and returns its digest.
async fn deployed_hello(gw: &Gateway) -> Value {
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    gw.function("hello").await.unwrap()["digest"].clone()
}

/// `response` is a 403 `policy_denied` giving `reason` as its only reason.
async fn assert_policy_denied(response: reqwest::Response, reason: &str) {
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "policy_denied", "{body}");
    assert_eq!(
        body["error"]["reasons"],
        serde_json::json!([reason]),
        "{body}"
    );
}

/// The old version still serves, unchanged.
async fn assert_unchanged(gw: &Gateway, digest: &Value) {
    assert_eq!(&gw.function("hello").await.unwrap()["digest"], digest);
    assert_eq!(
        gw.get_text("/fn/hello").await.unwrap(),
        "hello from wasmgate\n"
    );
}

fn signed_with(
    key: &SigningKey,
    name: &str,
    now: SystemTime,
    expires: Option<Duration>,
) -> Vec<u8> {
    let bytes = std::fs::read(guests::HTTP_ECHO).unwrap();
    let options = SignOptions {
        name: name.into(),
        expires_in: expires,
        ..SignOptions::default()
    };
    wasmgate_claims::sign(&bytes, key, &options, now).unwrap()
}

/// Replaces the first occurrence of `needle` in `haystack`.
fn replace_once(haystack: &mut [u8], needle: &[u8], with: &[u8]) {
    assert_eq!(needle.len(), with.len());
    let at = haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present");
    haystack[at..at + with.len()].copy_from_slice(with);
}

#[tokio::test]
async fn every_claims_refusal_has_its_code_and_changes_nothing() {
    let gw = Gateway::builder().start().await.unwrap();
    let digest = deployed_hello(&gw).await;
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);

    let unsigned = std::fs::read(guests::HTTP_ECHO).unwrap();

    let mut bad_signature = gw.sign(guests::HTTP_ECHO, "hello", &[]).unwrap();
    let token = wasmgate_claims::extract(&bad_signature).unwrap().unwrap();
    let signature = token.rsplit('.').next().unwrap();
    let mut forged = signature.as_bytes().to_vec();
    forged[10] = if forged[10] == b'A' { b'B' } else { b'A' };
    replace_once(&mut bad_signature, signature.as_bytes(), &forged);

    let untrusted = signed_with(&SigningKey::generate(), "hello", now, None);

    // A byte of the guest's own code (its response text), not of the claims.
    let mut tampered = gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap();
    replace_once(
        &mut tampered,
        b"hello from wasmgate",
        b"jello from wasmgate",
    );

    let expired = signed_with(gw.key(), "hello", now - 2 * hour, Some(hour));
    let not_yet_valid = signed_with(gw.key(), "hello", now + hour, None);
    let other_name = signed_with(gw.key(), "other", now, None);

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("unsigned", unsigned, 401, "unsigned"),
        ("bad signature", bad_signature, 401, "bad_signature"),
        ("untrusted issuer", untrusted, 403, "untrusted_issuer"),
        ("tampered", tampered, 422, "module_tampered"),
        ("expired", expired, 403, "expired"),
        ("not yet valid", not_yet_valid, 403, "not_yet_valid"),
        ("signed for another name", other_name, 403, "name_mismatch"),
        ("not wasm", b"not wasm".to_vec(), 422, "invalid_component"),
    ];
    for (case, bytes, status, code) in cases {
        let response = gw.deploy_bytes("hello", bytes).await.unwrap();
        assert_eq!(
            error_code(response).await,
            (status, code.to_owned()),
            "{case}"
        );
        assert_unchanged(&gw, &digest).await;
    }
}

#[tokio::test]
async fn with_no_trusted_issuer_every_deploy_is_refused_with_how_to_trust_one() {
    let gw = Gateway::builder().untrusted().start().await.unwrap();
    let response = gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "untrusted_issuer");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("--trust") && message.contains("WASMGATE_TRUSTED_ISSUERS"),
        "{message}"
    );
    assert!(gw.functions().await.unwrap().is_empty());
}

#[tokio::test]
async fn trusted_issuers_also_come_from_the_environment() {
    let key = SigningKey::generate();
    let gw = Gateway::builder()
        .untrusted()
        .env(
            "WASMGATE_TRUSTED_ISSUERS",
            &format!("{},{}", SigningKey::generate().issuer(), key.issuer()),
        )
        .start()
        .await
        .unwrap();
    let signed = signed_with(
        &key,
        "echo",
        SystemTime::now(),
        Some(Duration::from_secs(3600)),
    );
    assert_eq!(gw.deploy_bytes("echo", signed).await.unwrap().status(), 201);
}

#[tokio::test]
async fn a_network_import_is_linked_denied_until_granted_and_the_grant_works_at_run_time() {
    // The guest fetches the gateway's own /healthz on loopback, which the egress guard refuses
    // unless the operator opens it.
    let gw = Gateway::builder()
        .config_toml("[egress]\nallow = [\"127.0.0.0/8\"]\n")
        .start()
        .await
        .unwrap();
    // Without the grant the outgoing handler is linked (language runtimes import it unused) and
    // the deploy answer says every destination is denied.
    let response = gw.deploy("fetch", guests::CAPS_FETCH).await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["caps"], serde_json::json!([]), "{body}");
    let denied = body["linked_denied"].as_array().unwrap();
    assert_eq!(denied.len(), 1, "{body}");
    assert!(
        denied[0]
            .as_str()
            .unwrap()
            .starts_with("wasi:http/outgoing-handler@")
    );
    let url = format!("/fn/fetch?url={}", gw.url("/healthz"));
    let response = gw.client().get(gw.url(&url)).send().await.unwrap();
    assert_eq!(
        (response.status().as_u16(), response.text().await.unwrap()),
        (502, "error: ErrorCode::HttpRequestDenied".to_owned()),
        "a call without the grant gets the WIT error for a denied destination"
    );
    let metrics = gw.metrics().await.unwrap();
    let refused = wasmgate_tests::metric_sample(
        &metrics,
        "wasmgate_egress_refused_total",
        &[("function", "fetch"), ("reason", "not_granted")],
    );
    assert_eq!(refused, Some(1.0), "{metrics}");

    let signed = gw
        .sign(guests::CAPS_FETCH, "fetch", &[Capability::HttpOutgoing])
        .unwrap();
    let response = gw.deploy_bytes("fetch", signed).await.unwrap();
    assert_eq!(response.status(), 200, "a new version of fetch");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["caps"], serde_json::json!(["http-outgoing"]));
    assert_eq!(body["linked_denied"], serde_json::json!([]));
    let url = format!("/fn/fetch?url={}", gw.url("/healthz"));
    let response = gw.client().get(gw.url(&url)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        text.starts_with("200 ") && text.contains("\"ok\""),
        "{text}"
    );
    // The grant survives a restart: the restored function is linked with it again.
    let mut gw = gw;
    gw.restart().await.unwrap();
    // A restart picks a new port: point the guest at the new one.
    let url = format!("/fn/fetch?url={}", gw.url("/healthz"));
    let response = gw.client().get(gw.url(&url)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "after a restart: {text}");
}

const POLICY: &str = r#"
package wasmgate.admission

deny contains msg if {
    input.operation == "deploy"
    startswith(input.function, "admin-")
    msg := sprintf("%s: names starting with admin- are reserved", [input.function])
}

deny contains "paused is not allowed to run" if {
    input.operation == "execute"
    input.function == "paused"
}
"#;

fn policy_file(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("admission.rego");
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn policies_refuse_deploys_and_executions_with_their_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), POLICY);
    let gw = Gateway::builder()
        .arg("--policy")
        .arg(policy.to_str().unwrap())
        .start()
        .await
        .unwrap();
    assert_policy_denied(
        gw.deploy("admin-tool", guests::HTTP_HELLO).await.unwrap(),
        "admin-tool: names starting with admin- are reserved",
    )
    .await;
    assert_eq!(
        gw.function("admin-tool").await.unwrap()["error"]["code"],
        "function_not_found"
    );

    assert_eq!(
        gw.deploy("paused", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    assert_policy_denied(
        gw.client().get(gw.url("/fn/paused")).send().await.unwrap(),
        "paused is not allowed to run",
    )
    .await;

    let digest = deployed_hello(&gw).await;
    assert_unchanged(&gw, &digest).await;
}

#[tokio::test]
async fn sighup_reloads_policies_and_a_broken_policy_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "package wasmgate.admission\n\nallow := true\n");
    let gw = Gateway::builder()
        .arg("--policy")
        .arg(policy.to_str().unwrap())
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.deploy("paused", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let status = || async {
        gw.client()
            .get(gw.url("/fn/paused"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status().await, 200);

    let hup = || {
        let pid = gw.pid().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
    };
    policy_file(dir.path(), POLICY);
    assert!(hup().success());
    // The reload is asynchronous; the cached decision is dropped with the old policy generation.
    wasmgate_tests::eventually("policy reloaded", crate::DEADLINE, status, |s| *s == 403)
        .await
        .unwrap();

    policy_file(dir.path(), "package wasmgate.admission\nallow := [");
    assert!(hup().success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        status().await,
        403,
        "the broken policy did not replace the working one"
    );
    assert_eq!(
        gw.client()
            .get(gw.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn a_policy_that_does_not_compile_stops_the_gateway_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), "package wasmgate.admission\nallow := [");
    let output = tokio::process::Command::new(wasmgate_tests::wasmgate_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--policy")
        .arg(&policy)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("admission.rego"), "{stderr}");
}

const REMOTE_POLICY: &str = r#"
package wasmgate.admission

deny contains msg if {
    input.operation == "deploy"
    input.claims.sub == "blocked"
    msg := "blocked by the remote policy"
}
"#;

fn opa_config(url: &str, timeout: &str, fail_open: bool) -> String {
    format!("[admission.opa]\nurl = \"{url}\"\ntimeout = \"{timeout}\"\nfail_open = {fail_open}\n")
}

#[tokio::test]
async fn a_remote_opa_server_gets_the_input_and_its_denials_refuse() {
    let opa = wasmgate_tests::OpaServer::start(REMOTE_POLICY, Duration::ZERO)
        .await
        .unwrap();
    let gw = Gateway::builder()
        .config_toml(&opa_config(&opa.url(), "5s", false))
        .start()
        .await
        .unwrap();
    assert_policy_denied(
        gw.deploy("blocked", guests::HTTP_HELLO).await.unwrap(),
        "blocked by the remote policy",
    )
    .await;

    let digest = deployed_hello(&gw).await;
    assert_unchanged(&gw, &digest).await;

    let inputs = opa.inputs();
    let ops: Vec<&str> = inputs
        .iter()
        .map(|i| i["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops, ["deploy", "deploy", "execute"]);
    let deploy = &inputs[1];
    assert_eq!(deploy["function"], "hello");
    assert_eq!(deploy["claims"]["sub"], "hello");
    assert_eq!(deploy["claims"]["iss"], gw.key().issuer().to_string());
    assert_eq!(deploy["token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(deploy["source"]["kind"], "admin-api");
    assert_eq!(inputs[2]["source"]["kind"], "http");
    assert_eq!(inputs[2]["source"]["path"], "/fn/hello");

    // Warm calls within the decision TTL do not ask again.
    for _ in 0..5 {
        gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
    }
    assert_eq!(opa.inputs().len(), 3);
}

#[tokio::test]
async fn an_unreachable_or_slow_opa_fails_closed_unless_told_to_fail_open() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let gw = Gateway::builder()
        .config_toml(&opa_config(&closed, "1s", false))
        .start()
        .await
        .unwrap();
    let response = gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(
        error_code(response).await,
        (503, "policy_unavailable".into())
    );
    assert_eq!(
        gw.function("hello").await.unwrap()["error"]["code"],
        "function_not_found"
    );

    let slow = wasmgate_tests::OpaServer::start(REMOTE_POLICY, Duration::from_secs(5))
        .await
        .unwrap();
    let gw = Gateway::builder()
        .config_toml(&opa_config(&slow.url(), "200ms", false))
        .start()
        .await
        .unwrap();
    let response = gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(
        error_code(response).await,
        (503, "policy_unavailable".into())
    );

    let gw = Gateway::builder()
        .config_toml(&opa_config(&closed, "1s", true))
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
}

#[tokio::test]
async fn every_cold_start_asks_the_policy_again_even_within_the_ttl() {
    let opa = wasmgate_tests::OpaServer::start(REMOTE_POLICY, Duration::ZERO)
        .await
        .unwrap();
    let gw = Gateway::builder()
        .config_toml(&format!(
            "{}[admission]\ndecision_ttl = \"1h\"\n",
            opa_config(&opa.url(), "5s", false)
        ))
        .start()
        .await
        .unwrap();
    let response = gw
        .deploy_with_manifest(
            "hello",
            guests::HTTP_HELLO,
            "[scale]\nidle_timeout = \"100ms\"",
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let executes = || {
        opa.inputs()
            .iter()
            .filter(|i| i["operation"] == "execute")
            .count()
    };
    let call = || async {
        gw.client()
            .get(gw.url("/fn/hello"))
            .send()
            .await
            .unwrap()
            .status()
    };
    assert_eq!(call().await, 200);
    assert_eq!(call().await, 200);
    assert_eq!(executes(), 1, "the warm call reused the decision");
    wasmgate_tests::eventually(
        "function scaled to zero",
        crate::DEADLINE,
        || async { gw.function("hello").await.unwrap()["state"].clone() },
        |state| state == "cold",
    )
    .await
    .unwrap();
    assert_eq!(call().await, 200);
    assert_eq!(executes(), 2, "the cold start asked again");
}

const PATH_POLICY: &str = r#"
package wasmgate.admission

deny contains "the private path is closed" if {
    input.operation == "execute"
    input.source.kind == "http"
    endswith(input.source.path, "/private")
}

deny contains "DELETE is not allowed" if {
    input.operation == "execute"
    input.source.method == "DELETE"
}
"#;

#[tokio::test]
async fn an_execute_policy_is_asked_for_each_distinct_path_and_method_even_when_warm() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy_file(dir.path(), PATH_POLICY);
    let gw = Gateway::builder()
        .arg("--policy")
        .arg(policy.to_str().unwrap())
        .config_toml("[admission]\ndecision_ttl = \"1h\"\n")
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
    let call = |method: reqwest::Method, path: &'static str| {
        let request = gw.client().request(method, gw.url(path));
        async move { request.send().await.unwrap() }
    };
    // Cold, then warm: an allow for one path is never the answer for another.
    assert_eq!(
        call(reqwest::Method::GET, "/fn/hello/open").await.status(),
        200
    );
    for _ in 0..2 {
        assert_policy_denied(
            call(reqwest::Method::GET, "/fn/hello/private").await,
            "the private path is closed",
        )
        .await;
        assert_policy_denied(
            call(reqwest::Method::DELETE, "/fn/hello/open").await,
            "DELETE is not allowed",
        )
        .await;
        assert_eq!(
            call(reqwest::Method::GET, "/fn/hello/open").await.status(),
            200
        );
    }
    // The repeated allowed input was answered from the cache.
    let metrics = gw.metrics().await.unwrap();
    let cached = wasmgate_tests::metric_sample(
        &metrics,
        "wasmgate_admission_decisions_total",
        &[("operation", "execute"), ("result", "cached")],
    );
    assert!(cached.is_some_and(|n| n >= 2.0), "{cached:?}");
}
