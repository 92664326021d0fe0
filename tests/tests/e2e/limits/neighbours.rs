//! Noisy neighbours: one function's guests spinning on every core leave another function's
//! calls answered, because calls past their first epoch tick take turns for the CPU.

use crate::{DEADLINE, error_code};
use wasmgate_tests::{Gateway, eventually, guests};

#[tokio::test]
async fn spinners_on_every_core_wait_their_turn_for_cpu_and_the_neighbour_keeps_answering() {
    // More spinners than the gateway's runtime has threads (one per core), so they must queue
    // for the slices the fair share hands out, whatever machine this runs on.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spinners = cores * 2 + 2;
    let gw = Gateway::builder().start().await.unwrap();
    let manifest = format!("[limits]\ntimeout = \"5s\"\n[scale]\nmax_concurrency = {spinners}");
    gw.deploy_with_manifest("spin", guests::LIMITS_LOOP, &manifest)
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let spinning: Vec<_> = (0..spinners)
        .map(|_| {
            let request = gw.client().get(gw.url("/fn/spin")).send();
            tokio::spawn(async move { error_code(request.await.unwrap()).await })
        })
        .collect();
    eventually(
        "every spinner runs",
        DEADLINE,
        || async {
            gw.function("spin").await.unwrap()["instances"]
                .as_u64()
                .unwrap_or(0)
        },
        |instances| *instances == spinners as u64,
    )
    .await
    .unwrap();

    for _ in 0..20 {
        let response = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
        assert_eq!(response.status(), 200);
    }
    // The fair share engaged: the spinners waited for slices while others had the CPU.
    let waits = eventually(
        "the spinners wait for CPU slices",
        DEADLINE,
        || async {
            let spin = [("function", "spin")];
            gw.counter("wasmgate_guest_cpu_waits_total", &spin)
                .await
                .unwrap()
        },
        |waits| *waits > 0.0,
    )
    .await;
    assert!(waits.is_ok(), "{waits:?}");
    // (A hello may still meet the scheduler: ticks are wall-clock time, and on a loaded machine
    // a short call can be descheduled across two of them. So nothing is asserted about it.)
    for spin in spinning {
        assert_eq!(spin.await.unwrap(), (504, "timeout".into()));
    }
    let slices = [("function", "spin")];
    let slices = gw.counter("wasmgate_guest_cpu_slices_total", &slices);
    assert!(slices.await.unwrap() > 0.0);
}
