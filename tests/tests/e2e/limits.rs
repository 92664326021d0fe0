//! Guests that try to hurt the node: each is stopped by a limit, answered with the right status,
//! and its neighbours keep serving.

mod capabilities;
mod neighbours;
mod responses;

pub(crate) use capabilities::*;
pub(crate) use responses::*;

use crate::error_code;
use wasmgate_tests::{Gateway, guests};

crate::covers!(
    http_slow,
    limits_loop,
    limits_memory,
    limits_panic,
    limits_recursion
);

#[tokio::test]
async fn a_guest_past_its_timeout_gets_504_and_others_keep_answering() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest("spin", guests::LIMITS_LOOP, "[limits]\ntimeout = \"1s\"")
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    // More spinning guests than the machine has cores: none may hold a runtime thread.
    let spinning: Vec<_> = (0..4)
        .map(|_| {
            let request = gw.client().get(gw.url("/fn/spin")).send();
            tokio::spawn(async move { error_code(request.await.unwrap()).await })
        })
        .collect();
    for _ in 0..10 {
        let response = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    for spin in spinning {
        assert_eq!(spin.await.unwrap(), (504, "timeout".into()));
    }
}

#[tokio::test]
async fn traps_answer_500_guest_trap_and_the_gateway_keeps_serving() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest(
        "bomb",
        guests::LIMITS_MEMORY,
        "[limits]\nmemory = \"32MiB\"",
    )
    .await
    .unwrap();
    gw.deploy("panic", guests::LIMITS_PANIC).await.unwrap();
    gw.deploy("deep", guests::LIMITS_RECURSION).await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    for name in ["bomb", "panic", "deep"] {
        let response = gw
            .client()
            .get(gw.url(&format!("/fn/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            error_code(response).await,
            (500, "guest_trap".into()),
            "{name}"
        );
        let hello = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
        assert_eq!(hello.status(), 200);
    }
}

#[tokio::test]
async fn past_max_concurrency_requests_wait_briefly_then_get_429_with_retry_after() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest("slow", guests::HTTP_SLOW, "[scale]\nmax_concurrency = 1")
        .await
        .unwrap();
    let held = gw.client().get(gw.url("/fn/slow?ms=4000")).send();
    let held = tokio::spawn(held);
    wasmgate_tests::eventually(
        "the slow call holds the only slot",
        crate::DEADLINE,
        || async {
            gw.function("slow").await.unwrap()["instances"]
                .as_u64()
                .unwrap_or(0)
        },
        |instances| *instances == 1,
    )
    .await
    .unwrap();
    let refused = gw
        .client()
        .get(gw.url("/fn/slow?ms=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(error_code(refused).await, (429, "too_many_requests".into()));
    let held = held.await.unwrap().unwrap();
    assert_eq!(held.status(), 200);
    assert_eq!(held.text().await.unwrap(), "slept 4000");
}
