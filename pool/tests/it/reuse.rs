//! Instance reuse (`[scale] reuse = true`): which calls get a kept instance and which a fresh one.
//! The counter guests answer `calls=N`, the calls their instance has served.

use crate::harness::{TestPool, call, eventually, get};
use std::time::Duration;
use wasmgate_config::{Capability, PoolSettings};
use wasmgate_pool::Function;
use wasmgate_tests::guests;

crate::harness::covers!(http_counter, http_p3_counter, limits_publish_count);

/// The `calls=` each of `n` calls of `function` answered.
async fn counts(function: &Function, n: usize) -> Vec<String> {
    let mut seen = Vec::new();
    for _ in 0..n {
        let (status, body) = call(function, get("/")).await;
        assert_eq!(status, 200, "{body}");
        seen.push(body);
    }
    seen
}

fn calls(range: std::ops::RangeInclusive<u32>) -> Vec<String> {
    range.map(|n| format!("calls={n}")).collect()
}

#[tokio::test]
async fn without_reuse_every_call_runs_in_a_fresh_instance() {
    let pool = TestPool::new();
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "");
    assert_eq!(counts(&counter, 3).await, ["calls=1"; 3]);
    let stats = counter.stats();
    assert_eq!((stats.reuses, stats.kept_instances), (0, 0));
    assert!(eventually(Duration::from_secs(10), || counter.stats().instances == 0).await);
}

#[tokio::test]
async fn with_reuse_one_instance_serves_call_after_call() {
    let pool = TestPool::new();
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&counter, 4).await, calls(1..=4));
    let stats = counter.stats();
    assert_eq!(
        (stats.reuses, stats.kept_instances, stats.instances),
        (3, 1, 1)
    );
}

#[tokio::test]
async fn a_node_that_refuses_reuse_runs_every_call_fresh() {
    let pool = TestPool::with(PoolSettings {
        allow_reuse: false,
        ..PoolSettings::default()
    });
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&counter, 3).await, ["calls=1"; 3]);
}

#[tokio::test]
async fn two_functions_from_the_same_component_never_share_an_instance() {
    let pool = TestPool::new();
    let a = pool.deploy("a", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    let b = pool.deploy("b", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&a, 2).await, calls(1..=2));
    assert_eq!(counts(&b, 1).await, calls(1..=1));
    assert_eq!(counts(&a, 1).await, calls(3..=3));
    assert_eq!(counts(&b, 1).await, calls(2..=2));
}

#[tokio::test]
async fn a_trapping_call_s_instance_is_not_reused() {
    let pool = TestPool::new();
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&counter, 2).await, calls(1..=2));
    // The kept instance takes the trapping call (its third) and goes with it.
    assert!(counter.call(get("/?trap")).await.is_err());
    assert_eq!(counter.stats().kept_instances, 0);
    assert_eq!(counts(&counter, 2).await, calls(1..=2));
}

#[tokio::test]
async fn an_instance_holding_a_piece_of_its_call_is_not_kept() {
    let pool = TestPool::new();
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&counter, 1).await, calls(1..=1));
    // Its request stays in the resource table, held by a guest global.
    assert_eq!(call(&counter, get("/?keep-request")).await.1, "calls=2");
    assert_eq!(counts(&counter, 1).await, calls(1..=1));
}

#[tokio::test]
async fn an_unfinished_output_line_does_not_stop_reuse() {
    let pool = TestPool::new();
    let counter = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(call(&counter, get("/?partial")).await.1, "calls=1");
    assert_eq!(counts(&counter, 1).await, calls(2..=2));
}

#[tokio::test]
async fn reuse_ends_after_reuse_max_uses_calls() {
    let pool = TestPool::new();
    let counter = pool.deploy(
        "counter",
        guests::HTTP_COUNTER,
        "[scale]\nreuse = true\nreuse_max_uses = 3",
    );
    let mut expected = calls(1..=3);
    expected.extend(calls(1..=3));
    expected.push("calls=1".into());
    assert_eq!(counts(&counter, 7).await, expected);
}

#[tokio::test]
async fn an_instance_idle_past_reuse_idle_is_dropped() {
    let pool = TestPool::new();
    let counter = pool.deploy(
        "counter",
        guests::HTTP_COUNTER,
        "[scale]\nreuse = true\nreuse_idle = \"300ms\"",
    );
    assert_eq!(counts(&counter, 2).await, calls(1..=2));
    assert_eq!(counter.stats().kept_instances, 1);
    assert!(
        eventually(Duration::from_secs(10), || counter.stats().kept_instances
            == 0)
        .await
    );
    assert_eq!(counter.stats().instances, 0);
    assert!(counter.stats().warm, "the code stays until idle_timeout");
    assert_eq!(counts(&counter, 1).await, calls(1..=1));
}

#[tokio::test]
async fn a_replaced_version_never_serves_from_the_old_version_s_instances() {
    let pool = TestPool::new();
    let v1 = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&v1, 2).await, calls(1..=2));
    // Same name, same component: a new version all the same.
    let v2 = pool.deploy("counter", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&v2, 1).await, calls(1..=1));
    // Unloading the old version drops its kept instance with its code.
    assert_eq!(v1.stats().kept_instances, 1);
    v1.unload().await;
    pool.pool.run_pending_tasks().await;
    assert!(eventually(Duration::from_secs(10), || v1.stats().kept_instances == 0).await);
    assert_eq!(counts(&v2, 1).await, calls(2..=2));
}

#[tokio::test]
async fn messages_per_call_are_counted_per_call_on_a_reused_instance() {
    let pool = TestPool::new();
    let publisher = pool.deploy_granted(
        "publisher",
        guests::LIMITS_PUBLISH_COUNT,
        &[Capability::Messaging],
        "[scale]\nreuse = true\n[limits]\nmax_messages_per_call = 3",
    );
    for n in 1..=3 {
        let (status, body) = call(&publisher, get("/?n=5")).await;
        assert_eq!((status, body), (200, format!("calls={n} sent=3")));
    }
    assert_eq!(publisher.stats().limit_hits.messages_per_call, 3);
}

#[tokio::test]
async fn kept_instances_give_their_slots_back_when_the_node_runs_out() {
    let pool = TestPool::with(PoolSettings {
        instances: 1,
        ..PoolSettings::default()
    });
    let kept = pool.deploy("kept", guests::HTTP_COUNTER, "[scale]\nreuse = true");
    let other = pool.deploy("other", guests::HTTP_HELLO, "");
    assert_eq!(counts(&kept, 1).await, calls(1..=1));
    assert_eq!(kept.stats().kept_instances, 1);
    // The only slot is held by the kept instance: the fresh call gets it back.
    assert_eq!(call(&other, get("/")).await.0, 200);
    assert_eq!(kept.stats().kept_instances, 0);
    assert_eq!(counts(&kept, 1).await, calls(1..=1));
    assert_eq!(pool.pool.release_kept_instances(), 1);
    assert_eq!(kept.stats().kept_instances, 0);
}

#[tokio::test]
async fn wasi_p3_instances_are_reused_too() {
    let pool = TestPool::new();
    let fresh = pool.deploy("fresh", guests::HTTP_P3_COUNTER, "");
    assert_eq!(counts(&fresh, 2).await, ["calls=1"; 2]);
    let counter = pool.deploy("counter", guests::HTTP_P3_COUNTER, "[scale]\nreuse = true");
    assert_eq!(counts(&counter, 4).await, calls(1..=4));
    assert_eq!(counter.stats().reuses, 3);
}
