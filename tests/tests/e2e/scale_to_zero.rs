use std::time::Duration;
use wasmgate_tests::{Gateway, eventually, guests};

async fn state(gw: &Gateway, name: &str) -> (String, u64) {
    let f = gw.function(name).await.unwrap();
    (
        f["state"].as_str().unwrap_or("").to_owned(),
        f["instances"].as_u64().unwrap_or(99),
    )
}

#[tokio::test]
async fn an_idle_function_goes_cold_and_the_next_request_starts_it_again() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"300ms\"",
    )
    .await
    .unwrap();
    assert_eq!(state(&gw, "hello").await, ("cold".into(), 0));
    assert_eq!(
        gw.client()
            .get(gw.url("/fn/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(state(&gw, "hello").await.0, "warm");
    eventually(
        "idle function goes cold",
        crate::DEADLINE,
        || state(&gw, "hello"),
        |s| s == &("cold".to_owned(), 0),
    )
    .await
    .unwrap();
    let text = gw.get_text("/fn/hello").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
}

#[tokio::test]
async fn a_request_in_flight_keeps_its_function_warm_past_the_idle_timeout() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest(
        "slow",
        guests::HTTP_SLOW,
        "[scale]\nidle_timeout = \"200ms\"",
    )
    .await
    .unwrap();
    let call = tokio::spawn(gw.client().get(gw.url("/fn/slow?ms=1500")).send());
    eventually(
        "the call is running",
        crate::DEADLINE,
        || state(&gw, "slow"),
        |s| s.1 == 1,
    )
    .await
    .unwrap();
    // Well past idle_timeout while the call runs: still warm, still one instance.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(state(&gw, "slow").await, ("warm".into(), 1));
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "slept 1500");
}

#[tokio::test]
async fn two_hundred_concurrent_requests_on_a_cold_function_all_succeed() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(state(&gw, "hello").await.0, "cold");
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let request = gw.client().get(gw.url("/fn/hello")).send();
            tokio::spawn(async move {
                let response = request.await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            })
        })
        .collect();
    for call in futures::future::join_all(calls).await {
        assert_eq!(call.unwrap(), (200, "hello from wasmgate\n".to_owned()));
    }
}

#[tokio::test]
async fn min_instances_stay_ready_while_idle() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nmin_instances = 2\nidle_timeout = \"100ms\"",
    )
    .await
    .unwrap();
    eventually(
        "two ready instances",
        crate::DEADLINE,
        || state(&gw, "hello"),
        |s| s == &("warm".to_owned(), 2),
    )
    .await
    .unwrap();
    assert_eq!(
        gw.client()
            .get(gw.url("/fn/hello"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    eventually(
        "refilled to two",
        crate::DEADLINE,
        || state(&gw, "hello"),
        |s| s == &("warm".to_owned(), 2),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(state(&gw, "hello").await, ("warm".into(), 2));
}

#[tokio::test]
async fn under_a_tiny_code_budget_functions_do_not_stay_loaded() {
    let gw = Gateway::builder()
        .config_toml("[pool]\ncode_budget = \"1KiB\"")
        .start()
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    for _ in 0..3 {
        let text = gw.get_text("/fn/hello").await.unwrap();
        assert_eq!(text, "hello from wasmgate\n");
    }
    eventually(
        "evicted over budget",
        crate::DEADLINE,
        || state(&gw, "hello"),
        |s| s.0 == "cold",
    )
    .await
    .unwrap();
    // Its keep-alive (5 min) has not ended: the policy still wants it, so the node reports more
    // demand than its budget (the memory side of the nodes this load needs).
    let metrics = gw.metrics().await.unwrap();
    let sample = |name| wasmgate_tests::metric_sample(&metrics, name, &[]).unwrap();
    let demand = sample("wasmgate_memory_demand_bytes");
    assert_eq!(sample("wasmgate_memory_budget_bytes"), 1024.0);
    assert!(demand > 1024.0, "demand {demand}");
}

#[tokio::test]
async fn with_room_the_memory_demand_is_what_is_held_and_none_once_it_expires() {
    let gw = Gateway::builder().start().await.unwrap();
    let demand = async || {
        let metrics = gw.metrics().await.unwrap();
        wasmgate_tests::metric_sample(&metrics, "wasmgate_memory_demand_bytes", &[]).unwrap()
    };
    assert_eq!(demand().await, 0.0);
    gw.deploy_with_manifest(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"2s\"",
    )
    .await
    .unwrap();
    gw.get_text("/fn/hello").await.unwrap();
    let held = demand().await;
    assert!(held > 0.0, "the loaded code is wanted while warm");
    eventually(
        "nothing wanted after the keep-alive",
        crate::DEADLINE,
        demand,
        |d| *d == 0.0,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_nodes_keepalive_policy_applies_to_every_function() {
    let gw = Gateway::builder()
        .config_toml("[keepalive]\npolicy = \"fixed:300ms\"\n")
        .start()
        .await
        .unwrap();
    gw.deploy_with_manifest(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"1h\"",
    )
    .await
    .unwrap();
    assert_eq!(
        gw.get_text("/fn/hello").await.unwrap(),
        "hello from wasmgate\n"
    );
    eventually(
        "the node's 300 ms keep-alive, not the manifest's hour, sends it cold",
        crate::DEADLINE,
        || state(&gw, "hello"),
        |s| s == &("cold".to_owned(), 0),
    )
    .await
    .unwrap();
}

#[test]
fn an_unknown_keepalive_policy_stops_the_gateway_with_the_names_it_knows() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmgate.toml");
    std::fs::write(&config, "[keepalive]\npolicy = \"forever\"\n").unwrap();
    let output = std::process::Command::new(wasmgate_tests::wasmgate_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("forever") && stderr.contains("adaptive"),
        "{stderr}"
    );
}
