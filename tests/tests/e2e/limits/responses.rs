//! Hostile response bodies through the real binary: one past `max_response_body`, one that the
//! client reads too slowly, one that never ends. Each is stopped, its instance released, and a
//! neighbour keeps answering.

use crate::error_code;
use serde_json::Value;
use std::time::{Duration, Instant};
use wasmgate_tests::{Gateway, guests};

crate::covers!(limits_bigbody, limits_trickle);

/// How a body the gateway streamed ended, as the client saw it.
#[derive(Debug)]
struct Received {
    bytes: u64,
    /// Whether it ended in an error (cut off) rather than cleanly.
    aborted: bool,
}

async fn read_to_end(mut response: reqwest::Response) -> Received {
    let mut bytes = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes += chunk.len() as u64,
            Ok(None) => {
                return Received {
                    bytes,
                    aborted: false,
                };
            }
            Err(_) => {
                return Received {
                    bytes,
                    aborted: true,
                };
            }
        }
    }
}

async fn hello_answers(gw: &Gateway) {
    let response = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn instances(gw: &Gateway, name: &str) -> u64 {
    gw.function(name).await.unwrap()["instances"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// Waits until `name` has no instance left: its guest was stopped and its store released.
async fn released(gw: &Gateway, name: &str) {
    wasmgate_tests::eventually(
        &format!("{name} released its instance"),
        crate::DEADLINE,
        || instances(gw, name),
        |n| *n == 0,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_body_past_max_response_body_is_cut_off_and_the_guest_stopped_counted_and_logged() {
    let gw = Gateway::builder()
        .capture_logs()
        .arg("--log-format")
        .arg("json")
        .start()
        .await
        .unwrap();
    // The timeout is far beyond the test's deadline: only the body limit can stop the guest.
    let manifest = "[limits]\nmax_response_body = \"1MiB\"\ntimeout = \"300s\"";
    gw.deploy_with_manifest("big", guests::LIMITS_BIGBODY, manifest)
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    let response = gw
        .client()
        .get(gw.url("/fn/big"))
        .header("x-request-id", "big-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the head went out before the limit");
    let streaming = tokio::spawn(read_to_end(response));
    hello_answers(&gw).await;
    let received = streaming.await.unwrap();
    assert!(received.aborted, "{received:?}");
    assert!(received.bytes <= 1 << 20, "{received:?}");
    released(&gw, "big").await;
    hello_answers(&gw).await;

    // Declaring a body over the limit is refused before any header goes out.
    let refused = gw
        .client()
        .get(gw.url("/fn/big?declare=1048577"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(refused).await,
        (502, "response_too_large".into())
    );
    released(&gw, "big").await;
    hello_answers(&gw).await;

    let metrics = gw.metrics().await.unwrap();
    let line = "wasmgate_guest_limits_total{function=\"big\",limit=\"response_body\"} 2";
    assert!(metrics.lines().any(|l| l == line), "{metrics}");
    let logged = gw
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|v| {
            let fields = &v["fields"];
            fields["function"] == "big"
                && fields["request_id"] == "big-1"
                && fields["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("max_response_body"))
        });
    assert!(logged, "no log line names the function and request");
}

#[tokio::test]
async fn a_client_that_stops_reading_holds_the_guest_back_instead_of_the_gateway_buffering() {
    let gw = Gateway::builder().start().await.unwrap();
    // No size limit to speak of: only backpressure keeps the body in check.
    let manifest = "[limits]\nmax_response_body = \"16GiB\"\ntimeout = \"3s\"";
    gw.deploy_with_manifest("big", guests::LIMITS_BIGBODY, manifest)
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    let response = gw.client().get(gw.url("/fn/big")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // Read nothing until the timeout has stopped the guest; the neighbour answers meanwhile.
    hello_answers(&gw).await;
    released(&gw, "big").await;
    hello_answers(&gw).await;
    let received = read_to_end(response).await;
    assert!(
        received.aborted,
        "the timeout must cut the body off: {received:?}"
    );
    // A guest writing unhindered for three seconds produces gigabytes; one held back by the
    // paused reader gets no further than the socket and channel buffers.
    assert!(
        received.bytes <= 64 << 20,
        "the gateway buffered {} MiB for a client that read nothing",
        received.bytes >> 20
    );
}

#[tokio::test]
async fn a_response_that_never_ends_is_cut_off_at_the_timeout_and_its_only_slot_freed() {
    let gw = Gateway::builder().start().await.unwrap();
    let timeout = Duration::from_secs(2);
    let manifest = "[limits]\ntimeout = \"2s\"\n[scale]\nmax_concurrency = 1";
    gw.deploy_with_manifest("trickle", guests::LIMITS_TRICKLE, manifest)
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    for round in 0..2 {
        let started = Instant::now();
        let response = gw.client().get(gw.url("/fn/trickle")).send().await.unwrap();
        // The second round gets the one concurrency slot only if the first released it.
        assert_eq!(response.status(), 200, "round {round}");
        let streaming = tokio::spawn(read_to_end(response));
        hello_answers(&gw).await;
        let received = streaming.await.unwrap();
        assert!(received.aborted, "round {round}: {received:?}");
        assert!(received.bytes > 0, "round {round}: {received:?}");
        let took = started.elapsed();
        assert!(
            took < timeout + Duration::from_secs(10),
            "round {round}: the body ran {took:?}, past its {timeout:?} timeout"
        );
    }
    released(&gw, "trickle").await;
    hello_answers(&gw).await;
}
