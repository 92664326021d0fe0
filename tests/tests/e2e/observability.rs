//! Metrics, request ids and guest logs, end to end: a scrape after known traffic shows exact counts.

use serde_json::Value;
use wasmgate_tests::{Gateway, guests, metric_sample as sample};

crate::covers!(http_log);

#[tokio::test]
async fn a_scrape_after_known_traffic_shows_the_exact_counts() {
    let gw = Gateway::builder().start().await.unwrap();
    for (name, wasm) in [("hello", guests::HTTP_HELLO), ("echo", guests::HTTP_ECHO)] {
        assert_eq!(gw.deploy(name, wasm).await.unwrap().status(), 201);
    }
    let response = gw
        .deploy_with_manifest("spin", guests::LIMITS_LOOP, "[limits]\ntimeout = \"200ms\"")
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let unsigned = std::fs::read(guests::HTTP_HELLO).unwrap();
    assert_eq!(
        gw.deploy_bytes("hello", unsigned).await.unwrap().status(),
        401
    );

    let get = |path: &str| gw.client().get(gw.url(path)).send();
    for _ in 0..5 {
        assert_eq!(get("/fn/hello").await.unwrap().status(), 200);
    }
    for _ in 0..2 {
        assert_eq!(get("/fn/echo/x").await.unwrap().status(), 200);
    }
    assert_eq!(get("/fn/spin").await.unwrap().status(), 504);
    assert_eq!(get("/fn/nope").await.unwrap().status(), 404);
    assert_eq!(get("/elsewhere").await.unwrap().status(), 404);

    let text = gw.metrics().await.unwrap();
    let at = |name: &str, labels: &[(&str, &str)]| sample(&text, name, labels);
    let requests = "wasmgate_requests_total";
    assert_eq!(
        at(requests, &[("function", "hello"), ("status", "200")]),
        Some(5.0),
        "{text}"
    );
    assert_eq!(
        at(requests, &[("function", "echo"), ("status", "200")]),
        Some(2.0)
    );
    assert_eq!(
        at(requests, &[("function", "spin"), ("status", "504")]),
        Some(1.0)
    );
    assert_eq!(
        at(
            "wasmgate_request_duration_seconds_count",
            &[("function", "hello")]
        ),
        Some(5.0)
    );
    assert_eq!(
        at("wasmgate_unrouted_requests_total", &[("status", "404")]),
        Some(2.0)
    );
    assert!(
        !text.contains("nope") && !text.contains("elsewhere"),
        "unknown names make no series"
    );
    for f in ["hello", "echo", "spin"] {
        assert_eq!(
            at("wasmgate_cold_starts_total", &[("function", f)]),
            Some(1.0),
            "{f}"
        );
        assert_eq!(
            at(
                "wasmgate_cold_start_duration_seconds_count",
                &[("function", f)]
            ),
            Some(1.0)
        );
        assert!(at("wasmgate_memory_seconds_total", &[("function", f)]).unwrap() > 0.0);
    }
    assert_eq!(
        at("wasmgate_instances", &[("function", "hello")]),
        Some(0.0)
    );
    assert_eq!(at("wasmgate_functions", &[("state", "warm")]), Some(3.0));
    assert_eq!(at("wasmgate_functions", &[("state", "cold")]), Some(0.0));
    let decisions = "wasmgate_admission_decisions_total";
    assert_eq!(
        at(decisions, &[("operation", "deploy"), ("result", "allow")]),
        Some(3.0)
    );
    assert_eq!(
        at(decisions, &[("operation", "deploy"), ("result", "deny")]),
        Some(1.0)
    );
    assert!(at("wasmgate_loaded_code_bytes", &[]).unwrap() > 0.0);
    assert_eq!(at("wasmgate_memory_budget_bytes", &[]), Some(1073741824.0));

    // Deleting a function removes its series and counts the eviction.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/echo"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let text = gw.metrics().await.unwrap();
    assert!(!text.contains("function=\"echo\""), "{text}");
    assert_eq!(
        sample(&text, "wasmgate_evictions_total", &[("reason", "removed")]),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "wasmgate_functions", &[("state", "warm")]),
        Some(2.0)
    );
}

#[tokio::test]
async fn request_ids_are_kept_or_made_and_always_echoed() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let response = gw
        .client()
        .get(gw.url("/fn/hello"))
        .header("x-request-id", "trace-7")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-7");
    for path in ["/fn/hello", "/fn/missing", "/functions"] {
        let response = gw.client().get(gw.url(path)).send().await.unwrap();
        let id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(id.len(), 32, "{path}: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[tokio::test]
async fn guest_output_is_logged_line_by_line_with_function_and_request_id_under_a_rate_limit() {
    let gw = Gateway::builder()
        .capture_logs()
        .arg("--log-format")
        .arg("json")
        .start()
        .await
        .unwrap();
    gw.deploy("log", guests::HTTP_LOG).await.unwrap();
    let response = gw
        .client()
        .get(gw.url("/fn/log"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "logged\n");
    let guest_lines = |request_id: &str| -> Vec<Value> {
        gw.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["target"] == "wasmgate::guest" && v["fields"]["request_id"] == request_id)
            .collect()
    };
    let lines = wasmgate_tests::eventually(
        "guest lines logged",
        crate::DEADLINE,
        || async { guest_lines("req-42") },
        |lines| lines.len() >= 4,
    )
    .await
    .unwrap();
    let shown: Vec<(String, String)> = lines
        .iter()
        .map(|v| {
            (
                v["fields"]["stream"].as_str().unwrap().to_owned(),
                v["fields"]["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        shown.contains(&("stdout".into(), "line one".into())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&("stdout".into(), "line two".into())),
        "{shown:?}"
    );
    assert!(
        shown.contains(&("stderr".into(), "to stderr".into())),
        "{shown:?}"
    );
    // Written in two pieces through two handles: one record, as the reference host logs it.
    let pieces: Vec<_> = shown.iter().filter(|(_, m)| m.contains("pie")).collect();
    assert_eq!(
        pieces,
        [&("stderr".to_owned(), "pieces of one line".to_owned())],
        "{shown:?}"
    );
    assert!(lines.iter().all(|v| v["fields"]["function"] == "log"));

    // A flood: the burst passes, the rest is dropped and counted.
    let response = gw
        .client()
        .get(gw.url("/fn/log?n=2000"))
        .header("x-request-id", "flood")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = gw.metrics().await.unwrap();
    let dropped = sample(
        &text,
        "wasmgate_guest_log_lines_dropped_total",
        &[("function", "log")],
    )
    .unwrap();
    assert!(dropped >= 1500.0, "dropped {dropped}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logged = guest_lines("flood").len();
    assert!(
        logged < 500 && logged as f64 + dropped == 2004.0,
        "logged {logged}, dropped {dropped}"
    );
}
