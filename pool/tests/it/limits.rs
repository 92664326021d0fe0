use crate::harness::{TestPool, call, get};
use std::sync::Arc;
use wasmgate_pool::Error;
use wasmgate_tests::guests;

crate::harness::covers!(
    http_slow,
    limits_loop,
    limits_memory,
    limits_panic,
    limits_recursion
);

async fn failure(function: &wasmgate_pool::Function) -> Error {
    match function.call(get("/")).await {
        Ok(response) => panic!("expected the call to fail, got {}", response.status()),
        Err(e) => e,
    }
}

#[tokio::test]
async fn a_spinning_guest_times_out_and_others_keep_answering() {
    let pool = TestPool::new();
    let spin = pool.deploy("spin", guests::LIMITS_LOOP, "[limits]\ntimeout = \"500ms\"");
    let hello = pool.deploy("hello", guests::HTTP_HELLO, "");
    let spinning = tokio::spawn(async move { failure(&spin).await });
    // While the loop runs, hello answers on the same runtime.
    for _ in 0..5 {
        assert_eq!(call(&hello, get("/")).await.0, 200);
    }
    assert!(matches!(spinning.await.unwrap(), Error::Timeout { .. }));
}

#[tokio::test]
async fn a_memory_bomb_traps_at_its_limit() {
    let pool = TestPool::new();
    let bomb = pool.deploy(
        "bomb",
        guests::LIMITS_MEMORY,
        "[limits]\nmemory = \"16MiB\"",
    );
    assert!(matches!(failure(&bomb).await, Error::GuestTrap { .. }));
}

#[tokio::test]
async fn a_panic_and_unbounded_recursion_trap() {
    let pool = TestPool::new();
    let panic = pool.deploy("panic", guests::LIMITS_PANIC, "");
    assert!(matches!(failure(&panic).await, Error::GuestTrap { .. }));
    let deep = pool.deploy("deep", guests::LIMITS_RECURSION, "");
    match failure(&deep).await {
        Error::GuestTrap { trap } => assert!(trap.contains("stack"), "{trap}"),
        other => panic!("expected a stack overflow trap, got {other:?}"),
    }
}

#[tokio::test]
async fn past_max_concurrency_a_call_waits_then_is_refused() {
    let pool = TestPool::new();
    let slow = Arc::new(pool.deploy("slow", guests::HTTP_SLOW, "[scale]\nmax_concurrency = 1"));
    let held = tokio::spawn({
        let slow = slow.clone();
        async move { call(&slow, get("/?ms=3000")).await }
    });
    // Wait until the first call holds the only slot.
    assert!(
        crate::harness::eventually(std::time::Duration::from_secs(10), || slow.stats().running
            == 1)
        .await
    );
    assert!(matches!(
        failure(&slow).await,
        Error::Saturated { limit: 1 }
    ));
    assert_eq!(held.await.unwrap().0, 200);
}
