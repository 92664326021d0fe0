//! Host-run health checks (`[health]`) and manifest rollouts (`[rollout]`): a version that
//! fails its check never takes traffic (on deploy, on a rollback), a canary whose check starts
//! failing is rolled back before its window ends, and a manifest asks for the canary itself.
//!
//! The checks use the `caps_kv` guest: `GET /app/healthy` answers 200 while the key `healthy` of
//! its bucket `app` is set and 404 once it is deleted, so a test makes a version sick by a call.

use crate::error_code;
use serde_json::{Value, json};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

/// A check that passes while the key `healthy` is set.
const KV_HEALTH: &str = "[health]\npath = \"/app/healthy\"\n";

async fn deploy_kv(gw: &Gateway, manifest: &str) -> reqwest::Response {
    gw.deploy_granted("app", guests::CAPS_KV, &[Capability::Keyvalue], manifest)
        .await
        .unwrap()
}

/// Sets (`PUT`) or deletes (`DELETE`) the key the check reads, through whichever version serves.
async fn set_healthy(gw: &Gateway, healthy: bool) {
    let url = gw.url("/fn/app/app/healthy");
    let request = if healthy {
        gw.client().put(url).body("yes")
    } else {
        gw.client().delete(url)
    };
    assert_eq!(request.send().await.unwrap().status(), 200);
}

async fn live(gw: &Gateway) -> Value {
    gw.get_json("/functions/app/versions").await.unwrap()["live"].clone()
}

async fn counted(gw: &Gateway, family: &str, labels: &[(&str, &str)]) -> f64 {
    gw.counter(family, labels).await.unwrap()
}

#[tokio::test]
async fn a_version_failing_its_health_check_takes_no_traffic_and_the_deploy_says_why() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(deploy_kv(&gw, "").await.status(), 201);
    set_healthy(&gw, true).await;

    // Passes: the answer says the check ran.
    let passed = deploy_kv(&gw, KV_HEALTH).await;
    assert_eq!(passed.status(), 200);
    let body: Value = passed.json().await.unwrap();
    assert_eq!(body["version"], 2, "{body}");
    assert_eq!(body["health_check"], "passed", "{body}");

    // Fails three ways; each refusal names the cause, records nothing and leaves version 2 live.
    set_healthy(&gw, false).await;
    let answered_404 = deploy_kv(&gw, KV_HEALTH).await;
    let body: Value = answered_404.json().await.unwrap();
    assert_eq!(body["error"]["code"], "health_check_failed", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("GET /app/healthy answered 404") && message.contains("<none>"),
        "{message}"
    );
    let trapped = gw
        .deploy_granted("app", guests::LIMITS_PANIC, &[], "[health]\npath = \"/\"\n")
        .await
        .unwrap();
    let body: Value = trapped.json().await.unwrap();
    assert_eq!(body["error"]["code"], "health_check_failed", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("trapped"),
        "{body}"
    );
    // The hello guest handles no messages.
    let no_handler = gw
        .deploy_granted("app", guests::HTTP_HELLO, &[], "[health]\nmessage = true\n")
        .await
        .unwrap();
    assert_eq!(
        error_code(no_handler).await,
        (422, "health_check_failed".to_owned())
    );
    let versions = gw.get_json("/functions/app/versions").await.unwrap();
    assert_eq!(versions["live"], json!({"2": 100}), "{versions}");
    assert_eq!(
        versions["next_version"], 3,
        "a refused deploy takes no number"
    );
    assert_eq!(versions["versions"].as_array().unwrap().len(), 2);
    let still = gw.client().get(gw.url("/fn/app/app/healthy")).send().await;
    assert_eq!(still.unwrap().status(), 404, "version 2 still serves");

    // A manifest whose check cannot run is refused before any of this.
    let bad = deploy_kv(&gw, "[health]\npath = \"healthy\"\n").await;
    assert_eq!(error_code(bad).await, (400, "invalid_manifest".to_owned()));

    for (outcome, expected) in [("passed", 1.0), ("failed", 3.0)] {
        let labels = [
            ("function", "app"),
            ("stage", "deploy"),
            ("outcome", outcome),
        ];
        assert_eq!(
            counted(&gw, "wasmgate_health_checks_total", &labels).await,
            expected,
            "{outcome}"
        );
    }
}

#[tokio::test]
async fn a_message_check_reaches_the_guests_incoming_handler() {
    let gw = Gateway::builder().start().await.unwrap();
    crate::events::deploy(&gw, "app", "[health]\nmessage = true\ntimeout = \"10s\"\n").await;
    let labels = [
        ("function", "app"),
        ("stage", "deploy"),
        ("outcome", "passed"),
    ];
    assert_eq!(
        counted(&gw, "wasmgate_health_checks_total", &labels).await,
        1.0
    );
}

#[tokio::test]
async fn a_rollback_to_a_version_failing_its_health_check_is_refused_and_changes_nothing() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(deploy_kv(&gw, "").await.status(), 201);
    set_healthy(&gw, true).await;
    assert_eq!(deploy_kv(&gw, KV_HEALTH).await.status(), 200);
    assert_eq!(deploy_kv(&gw, "").await.status(), 200);
    set_healthy(&gw, false).await;

    let rollback = || async {
        gw.client()
            .post(gw.url("/functions/app/rollback"))
            .body(r#"{"version": 2}"#)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(
        error_code(rollback().await).await,
        (422, "health_check_failed".to_owned())
    );
    assert_eq!(live(&gw).await, json!({"3": 100}));
    let split = gw
        .client()
        .put(gw.url("/functions/app/traffic"))
        .header("content-type", "application/json")
        .body(r#"{"2": 10, "3": 90}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(split).await,
        (422, "health_check_failed".to_owned())
    );
    assert_eq!(live(&gw).await, json!({"3": 100}));

    set_healthy(&gw, true).await;
    assert_eq!(rollback().await.status(), 200);
    assert_eq!(live(&gw).await, json!({"2": 100}));
    let labels = [
        ("function", "app"),
        ("stage", "traffic"),
        ("outcome", "failed"),
    ];
    assert_eq!(
        counted(&gw, "wasmgate_health_checks_total", &labels).await,
        2.0
    );
}

/// Calls version-neutral paths of `app` until its canary is judged; `GET /functions/app`'s
/// `canary`.
async fn until_judged(gw: &Gateway) -> Value {
    wasmgate_tests::eventually(
        "the canary is judged",
        crate::DEADLINE,
        || async {
            for _ in 0..5 {
                let call = gw.client().get(gw.url("/fn/app/app/other")).send().await;
                assert_eq!(call.unwrap().status(), 404);
            }
            gw.function("app").await.unwrap()["canary"].clone()
        },
        |canary| canary["state"] != "running",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_manifest_canary_is_promoted_when_healthy_and_rolled_back_early_when_its_check_fails() {
    // The node's window is long: the manifest's own window and health interval decide.
    let gw = Gateway::builder()
        .config_toml("[versions]\ncanary_window = \"1h\"\n")
        .start()
        .await
        .unwrap();
    // A first deploy has nothing to compare with: it goes live whole, no canary.
    let rollout = |window: &str| {
        format!(
            "{KV_HEALTH}interval = \"1s\"\nfailures = 2\n[rollout]\ncanary = \"50%\"\nwindow = \"{window}\"\nlatency_margin = 100.0\n"
        )
    };
    let first = deploy_kv(&gw, "[rollout]\ncanary = \"50%\"\n").await;
    assert_eq!(first.status(), 201);
    let body: Value = first.json().await.unwrap();
    assert!(body.get("canary").is_none(), "{body}");
    assert_eq!(live(&gw).await, json!({"1": 100}));
    set_healthy(&gw, true).await;

    let healthy = deploy_kv(&gw, &rollout("3s")).await;
    assert_eq!(healthy.status(), 200);
    let body: Value = healthy.json().await.unwrap();
    assert_eq!(body["canary"]["state"], "running", "{body}");
    assert_eq!(body["canary"]["window_seconds"], 3.0, "{body}");
    assert_eq!(live(&gw).await, json!({"1": 50, "2": 50}));
    let canary = until_judged(&gw).await;
    assert_eq!(canary["state"], "promoted", "{canary}");
    assert_eq!(live(&gw).await, json!({"2": 100}));

    // Version 3 passes its check at deploy, then its key is deleted: two failed checks a second
    // apart roll it back long before its ten-minute window.
    let sick = deploy_kv(&gw, &rollout("10m")).await;
    assert_eq!(sick.status(), 200);
    assert_eq!(live(&gw).await, json!({"2": 50, "3": 50}));
    set_healthy(&gw, false).await;
    let canary = until_judged(&gw).await;
    assert_eq!(canary["state"], "rolled_back", "{canary}");
    let reason = canary["reason"].as_str().unwrap();
    assert!(
        reason.contains("health check failed 2 time(s) in a row") && reason.contains("404"),
        "{reason}"
    );
    assert_eq!(live(&gw).await, json!({"2": 100}));

    for (outcome, expected) in [("promoted", 1.0), ("rolled_back", 1.0)] {
        let labels = [("function", "app"), ("outcome", outcome)];
        assert_eq!(
            counted(&gw, "wasmgate_canaries_total", &labels).await,
            expected,
            "{outcome}"
        );
    }
}
