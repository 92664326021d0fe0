use crate::harness::{TestPool, call, eventually, get};
use std::time::Duration;
use wasmgate_tests::guests;

crate::harness::covers!(http_stream, http_wstd);

#[tokio::test]
async fn an_idle_function_drops_its_code_and_cold_starts_again() {
    let pool = TestPool::new();
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"200ms\"",
    );
    assert_eq!(call(&hello, get("/")).await.0, 200);
    assert!(hello.stats().warm);
    assert!(eventually(Duration::from_secs(10), || !hello.stats().warm).await);
    assert!(
        eventually(Duration::from_secs(10), || pool.pool.loaded_code_bytes()
            == 0)
        .await
    );
    assert_eq!(hello.stats().instances, 0);
    assert_eq!(call(&hello, get("/")).await.0, 200);
    assert_eq!(hello.stats().cold_starts, 2);
}

#[tokio::test]
async fn a_burst_on_a_cold_function_loads_it_once() {
    let pool = TestPool::new();
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nmax_concurrency = 200",
    );
    let calls: Vec<_> = (0..200)
        .map(|_| {
            let hello = hello.clone();
            tokio::spawn(async move { call(&hello, get("/")).await.0 })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap(), 200);
    }
    assert_eq!(hello.stats().cold_starts, 1);
}

#[tokio::test]
async fn min_instances_are_ready_before_any_request_and_refilled() {
    let pool = TestPool::new();
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nmin_instances = 2\nidle_timeout = \"100ms\"",
    );
    hello.start().await.unwrap();
    assert!(eventually(Duration::from_secs(10), || hello.stats().instances == 2).await);
    assert_eq!(call(&hello, get("/")).await.0, 200);
    assert!(eventually(Duration::from_secs(10), || hello.stats().instances == 2).await);
    // Pinned: idle_timeout does not apply while min_instances > 0.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(hello.stats().warm);
}

#[tokio::test]
async fn streamed_and_wstd_responses_arrive_whole() {
    let pool = TestPool::new();
    let stream = pool.deploy("stream", guests::HTTP_STREAM, "");
    let (status, body) = call(&stream, get("/?chunks=3")).await;
    assert_eq!(status, 200);
    assert_eq!(body, "chunk 0\nchunk 1\nchunk 2\n");
    let wstd = pool.deploy("wstd", guests::HTTP_WSTD, "");
    assert_eq!(
        call(&wstd, get("/")).await,
        (200, "hello from wstd\n".into())
    );
}

#[tokio::test]
async fn code_over_the_budget_is_evicted() {
    let settings = wasmgate_config::PoolSettings {
        code_budget: wasmgate_config::ByteSize::from_bytes(1),
        ..Default::default()
    };
    let pool = TestPool::with(settings);
    let hello = pool.deploy("hello", guests::HTTP_HELLO, "");
    assert_eq!(call(&hello, get("/")).await.0, 200);
    pool.pool.run_pending_tasks().await;
    assert!(!hello.stats().warm);
    assert_eq!(pool.pool.loaded_code_bytes(), 0);
    assert!(
        pool.pool
            .evictions()
            .budget
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
}

#[tokio::test]
async fn the_keep_alive_policy_decides_when_code_leaves_not_only_the_manifest() {
    // `none`: unloaded as soon as the call ends, whatever the manifest's idle_timeout.
    let pool = TestPool::new();
    pool.pool.set_keep_alive("none".parse().unwrap(), 1.0);
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"1h\"",
    );
    assert_eq!(call(&hello, get("/")).await.0, 200);
    assert!(eventually(Duration::from_secs(10), || !hello.stats().warm).await);

    // `fixed:300ms`: one keep-alive for every function, replacing the manifest's.
    let pool = TestPool::new();
    pool.pool
        .set_keep_alive("fixed:300ms".parse().unwrap(), 1.0);
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"1h\"",
    );
    assert_eq!(call(&hello, get("/")).await.0, 200);
    assert!(hello.stats().warm);
    assert!(eventually(Duration::from_secs(10), || !hello.stats().warm).await);
    assert!(
        pool.pool
            .evictions()
            .idle
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );

    // `fixed` (the default): the manifest's idle_timeout, here an hour, so it stays.
    let pool = TestPool::new();
    let hello = pool.deploy(
        "hello",
        guests::HTTP_HELLO,
        "[scale]\nidle_timeout = \"1h\"",
    );
    assert_eq!(call(&hello, get("/")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(600)).await;
    pool.pool.run_pending_tasks().await;
    assert!(hello.stats().warm);
}
