//! Hostile guests against the per-call limits, in process: what each limit stops, and that the
//! instance is released.

use crate::harness::{TestPool, call, eventually, get};
use http_body_util::BodyExt;
use std::time::Duration;
use wasmgate_capabilities::messaging::{Bus, Message};
use wasmgate_config::Capability;
use wasmgate_pool::{Error, Function};
use wasmgate_tests::guests;

crate::harness::covers!(
    limits_bigbody,
    limits_trickle,
    limits_publish_loop,
    limits_kv_buckets
);

/// Long enough for a slow machine to do anything the tests wait for.
const DEADLINE: Duration = Duration::from_secs(20);

/// Reads the whole body of `function`'s answer to `path`: what arrived, and how it ended.
async fn read_all(function: &Function, path: &str) -> (u64, Result<(), Error>) {
    let mut body = function.call(get(path)).await.unwrap().into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => received += frame.data_ref().map_or(0, |d| d.len() as u64),
            Err(e) => return (received, Err(e)),
        }
    }
    (received, Ok(()))
}

async fn released(function: &Function) -> bool {
    eventually(DEADLINE, || function.stats().instances == 0).await
}

#[tokio::test]
async fn a_body_past_max_response_body_ends_in_an_error_and_the_guest_is_stopped() {
    let pool = TestPool::new();
    // The timeout is far away: only the body limit can stop the guest within the deadline.
    let big = pool.deploy(
        "big",
        guests::LIMITS_BIGBODY,
        "[limits]\nmax_response_body = \"1MiB\"\ntimeout = \"300s\"",
    );
    let (received, end) = read_all(&big, "/").await;
    assert!(
        matches!(end, Err(Error::ResponseTooLarge { limit: 1_048_576 })),
        "{end:?}"
    );
    assert!(received <= 1 << 20, "{received}");
    assert!(released(&big).await, "the guest was not stopped");
    assert_eq!(big.stats().limit_hits.response_body, 1);
}

#[tokio::test]
async fn a_declared_content_length_over_the_limit_is_refused_before_the_head() {
    let pool = TestPool::new();
    let big = pool.deploy(
        "big",
        guests::LIMITS_BIGBODY,
        "[limits]\nmax_response_body = \"1MiB\"\ntimeout = \"300s\"",
    );
    let refused = big.call(get("/?declare=1048577")).await.unwrap_err();
    assert!(
        matches!(refused, Error::ResponseTooLarge { .. }),
        "{refused}"
    );
    assert!(released(&big).await, "the guest was not stopped");
    assert_eq!(big.stats().limit_hits.response_body, 1);

    // A HEAD answer has no body: its content-length is the resource's, not held against the limit.
    let head = pool.deploy(
        "head",
        guests::LIMITS_BIGBODY,
        "[limits]\nmax_response_body = \"1MiB\"\ntimeout = \"1s\"",
    );
    let request = http::Request::head("http://localhost/?declare=1048577")
        .body(http_body_util::Full::new(bytes::Bytes::new()))
        .unwrap();
    assert_eq!(head.call(request).await.unwrap().status(), 200);
    assert_eq!(head.stats().limit_hits.response_body, 0);
}

#[tokio::test]
async fn a_response_that_never_ends_is_cut_off_by_the_timeout_not_ended_cleanly() {
    let pool = TestPool::new();
    let trickle = pool.deploy(
        "trickle",
        guests::LIMITS_TRICKLE,
        "[limits]\ntimeout = \"1s\"",
    );
    let (received, end) = read_all(&trickle, "/").await;
    assert!(matches!(end, Err(Error::Timeout { .. })), "{end:?}");
    assert!(received > 0);
    assert!(released(&trickle).await);
    assert_eq!(
        call(&pool.deploy("hello", guests::HTTP_HELLO, ""), get("/"))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn a_publishing_loop_gets_exactly_max_messages_per_call_onto_the_bus() {
    let pool = TestPool::new();
    let mut flood = pool.bus.subscribe("flood".into(), None).await.unwrap();
    let publisher = pool.deploy_granted(
        "publisher",
        guests::LIMITS_PUBLISH_LOOP,
        &[Capability::Messaging],
        "[limits]\nmax_messages_per_call = 5\ntimeout = \"1s\"",
    );
    let stopped = publisher.call(get("/")).await.unwrap_err();
    assert!(matches!(stopped, Error::Timeout { .. }), "{stopped}");
    // The guest is gone; a marker published now arrives right after everything it sent.
    pool.bus
        .publish(Message::new("flood", "marker"))
        .await
        .unwrap();
    let mut sent = 0;
    loop {
        let delivery = flood.next().await.unwrap();
        if delivery.message().data == "marker" {
            break;
        }
        sent += 1;
    }
    assert_eq!(sent, 5);
    assert_eq!(publisher.stats().limit_hits.messages_per_call, 1);
}

#[tokio::test]
async fn opening_buckets_in_a_loop_stops_at_max_open_buckets_and_big_entries_are_refused() {
    let pool = TestPool::new();
    let hoarder = pool.deploy_granted(
        "hoarder",
        guests::LIMITS_KV_BUCKETS,
        &[Capability::Keyvalue],
        "[limits]\nmax_open_buckets = 7",
    );
    let (status, text) = call(&hoarder, get("/")).await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "opened 7");
    assert!(
        lines[1].contains("at most 7 (limits.max_open_buckets)"),
        "{text}"
    );
    assert!(
        lines[2].contains("larger than the limit of 1048576 bytes"),
        "{text}"
    );
    assert!(
        lines[3].contains("longer than the limit of 1024 bytes"),
        "{text}"
    );
    assert_eq!(hoarder.stats().limit_hits.open_buckets, 1);
}
