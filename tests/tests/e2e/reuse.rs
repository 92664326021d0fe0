//! Instance reuse through the real binary: the counter guests answer `calls=N`, the calls their
//! instance has served, so `calls=1` every time means a fresh instance per call.

use wasmgate_tests::{Gateway, guests};

crate::covers!(http_counter, http_p3_counter, limits_publish_count);

const REUSE: &str = "[scale]\nreuse = true\n";

/// The bodies of `n` calls of `path`, each checked to be a 200.
async fn bodies(gw: &Gateway, path: &str, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let response = gw.client().get(gw.url(path)).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {body}");
        seen.push(body);
    }
    seen
}

fn calls(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("calls={n}")).collect()
}

async fn deploy(gw: &Gateway, name: &str, wasm: &str, manifest: &str) -> u16 {
    let response = gw.deploy_with_manifest(name, wasm, manifest).await.unwrap();
    let status = response.status().as_u16();
    assert!(
        matches!(status, 200 | 201),
        "{name}: {}",
        response.text().await.unwrap()
    );
    status
}

#[tokio::test]
async fn only_a_function_that_opts_in_keeps_its_instance_and_never_for_another_function() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("fresh", guests::HTTP_COUNTER)
            .await
            .unwrap()
            .status(),
        201
    );
    deploy(&gw, "reused", guests::HTTP_COUNTER, REUSE).await;
    deploy(&gw, "sibling", guests::HTTP_COUNTER, REUSE).await;

    assert_eq!(bodies(&gw, "/fn/fresh", 3).await, ["calls=1"; 3]);
    assert_eq!(bodies(&gw, "/fn/reused", 3).await, calls(1..=3));
    // The same component under another name has instances of its own.
    assert_eq!(bodies(&gw, "/fn/sibling", 1).await, calls(1..=1));
    assert_eq!(bodies(&gw, "/fn/reused", 1).await, calls(4..=4));

    let metrics = gw.metrics().await.unwrap();
    for line in [
        "wasmgate_instance_reuses_total{function=\"reused\"} 3",
        "wasmgate_instance_reuses_total{function=\"sibling\"} 0",
        "wasmgate_instances_kept{function=\"reused\"} 1",
        "wasmgate_instances_kept{function=\"sibling\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    assert!(
        !metrics.contains("wasmgate_instance_reuses_total{function=\"fresh\"}"),
        "a function without reuse gets no reuse series: {metrics}"
    );
}

#[tokio::test]
async fn reuse_needs_a_signed_manifest() {
    let gw = Gateway::builder().start().await.unwrap();
    let unsigned_manifest = gw.sign(guests::HTTP_COUNTER, "counter", &[]).unwrap();
    let response = gw
        .deploy_parts("counter", unsigned_manifest, REUSE)
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "manifest_unsigned");
}

#[tokio::test]
async fn a_trapping_call_s_instance_is_not_reused() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(&gw, "counter", guests::HTTP_COUNTER, REUSE).await;
    assert_eq!(bodies(&gw, "/fn/counter", 2).await, calls(1..=2));
    let trapped = gw
        .client()
        .get(gw.url("/fn/counter?trap"))
        .send()
        .await
        .unwrap();
    assert_eq!(trapped.status(), 500);
    assert_eq!(bodies(&gw, "/fn/counter", 2).await, calls(1..=2));
}

#[tokio::test]
async fn a_replaced_version_never_serves_from_the_old_version_s_instances() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(&gw, "counter", guests::HTTP_COUNTER, REUSE).await;
    assert_eq!(bodies(&gw, "/fn/counter", 2).await, calls(1..=2));
    assert_eq!(
        deploy(&gw, "counter", guests::HTTP_COUNTER, REUSE).await,
        200
    );
    assert_eq!(bodies(&gw, "/fn/counter", 2).await, calls(1..=2));
}

#[tokio::test]
async fn the_use_count_and_the_idle_limit_end_reuse() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(
        &gw,
        "uses",
        guests::HTTP_COUNTER,
        "[scale]\nreuse = true\nreuse_max_uses = 2\n",
    )
    .await;
    deploy(
        &gw,
        "idle",
        guests::HTTP_COUNTER,
        "[scale]\nreuse = true\nreuse_idle = \"300ms\"\n",
    )
    .await;
    let mut expected = calls(1..=2);
    expected.extend(calls(1..=2));
    assert_eq!(bodies(&gw, "/fn/uses", 4).await, expected);

    assert_eq!(bodies(&gw, "/fn/idle", 2).await, calls(1..=2));
    wasmgate_tests::eventually(
        "the idle instance is dropped",
        crate::DEADLINE,
        || gw.metrics(),
        |text| {
            text.as_ref().is_ok_and(|t| {
                t.lines()
                    .any(|l| l == "wasmgate_instances_kept{function=\"idle\"} 0")
            })
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(bodies(&gw, "/fn/idle", 1).await, calls(1..=1));
}

#[tokio::test]
async fn the_per_call_message_limit_applies_to_each_call_of_a_reused_instance() {
    let gw = Gateway::builder().start().await.unwrap();
    let manifest = "[scale]\nreuse = true\n[limits]\nmax_messages_per_call = 2\n[messaging]\npublish = [\"counted\"]\n";
    let response = gw
        .deploy_granted(
            "publisher",
            guests::LIMITS_PUBLISH_COUNT,
            &[wasmgate_config::Capability::Messaging],
            manifest,
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(
        bodies(&gw, "/fn/publisher?n=5", 3).await,
        ["calls=1 sent=2", "calls=2 sent=2", "calls=3 sent=2"]
    );
    let metrics = gw.metrics().await.unwrap();
    for line in [
        "wasmgate_messages_total{direction=\"published\"} 6",
        "wasmgate_guest_limits_total{function=\"publisher\",limit=\"messages_per_call\"} 3",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
}

#[tokio::test]
async fn a_node_with_allow_reuse_off_runs_opted_in_functions_fresh() {
    let gw = Gateway::builder()
        .config_toml("[pool]\nallow_reuse = false\n")
        .start()
        .await
        .unwrap();
    deploy(&gw, "counter", guests::HTTP_COUNTER, REUSE).await;
    assert_eq!(bodies(&gw, "/fn/counter", 3).await, ["calls=1"; 3]);
}

#[tokio::test]
async fn a_wasi_p3_function_reuses_its_instance_too() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(&gw, "p3", guests::HTTP_P3_COUNTER, REUSE).await;
    assert_eq!(bodies(&gw, "/fn/p3", 3).await, calls(1..=3));
}
