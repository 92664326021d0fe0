//! The engine against a simulated server (no network), in real time: a stall of one second
//! must show up in the latencies of the requests scheduled during it.

use super::*;
use crate::schedule::Schedule;
use crate::stats::Outcome;

fn arrivals(rate: f64, duration: Duration) -> Vec<Arrival> {
    Schedule::Constant { rate }
        .offsets_within(duration)
        .map(|at| Arrival { at, function: 0 })
        .collect()
}

fn reply(outcome: Outcome) -> Reply {
    Reply {
        outcome,
        headers_at: Some(Instant::now()),
        done_at: Instant::now(),
        retry_after: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stall_is_charged_to_every_request_queued_behind_it() {
    // A server that handles one request at a time; the first one stalls it for a second.
    let server = Arc::new(tokio::sync::Mutex::new(0u32));
    let send = move |_function| {
        let server = Arc::clone(&server);
        async move {
            let mut served = server.lock().await;
            let work = if *served == 0 {
                Duration::from_secs(1)
            } else {
                Duration::from_millis(1)
            };
            *served += 1;
            tokio::time::sleep(work).await;
            reply(Outcome::Status(200))
        }
    };
    let recorder = Recorder::new().unwrap();
    // 100 requests, one every 10 ms: all but the first are due while the server is stalled.
    run(
        arrivals(100.0, Duration::from_secs(1)),
        10_000,
        send,
        &recorder,
    )
    .await
    .unwrap();
    let stats = recorder.snapshot();
    assert_eq!(stats.requests(), 100);
    assert_eq!(stats.dropped(), 0);
    // Request k (due at 10k ms) cannot finish before ~1000 ms, so its latency is at least
    // 1000 - 10k ms: three quarters of the requests waited over 200 ms. Timed from when each
    // was actually served, all but one would show about 1 ms.
    let p25 = stats.latency_at(25.0).unwrap();
    assert!(p25 >= Duration::from_millis(200), "p25 {p25:?}");
    let max = stats.latency_max().unwrap();
    assert!(max >= Duration::from_millis(990), "max {max:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_that_delays_sending_is_charged_to_the_requests_it_delayed() {
    // Preparing the first request blocks the sender for a second (a client-side pause, a full
    // accept queue): the 99 requests due meanwhile go out late, all at once, and are answered
    // at once. Timed from when they were sent, they would all look instant.
    let stalled = std::sync::atomic::AtomicBool::new(false);
    let send = move |_function| {
        if !stalled.swap(true, std::sync::atomic::Ordering::Relaxed) {
            std::thread::sleep(Duration::from_secs(1));
        }
        async { reply(Outcome::Status(200)) }
    };
    let recorder = Recorder::new().unwrap();
    run(
        arrivals(100.0, Duration::from_secs(1)),
        10_000,
        send,
        &recorder,
    )
    .await
    .unwrap();
    let stats = recorder.snapshot();
    assert_eq!(stats.requests(), 100);
    // Request k was due at 10k ms and sent at about 1000 ms: latency >= 1000 - 10k ms.
    let p25 = stats.latency_at(25.0).unwrap();
    assert!(p25 >= Duration::from_millis(200), "p25 {p25:?}");
    let lag = stats.send_lag_at(99.0).unwrap();
    assert!(
        lag >= Duration::from_millis(900),
        "the send lag shows it too: {lag:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_past_the_in_flight_bound_are_counted_as_dropped() {
    let send = |_function| async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        reply(Outcome::Status(200))
    };
    let recorder = Recorder::new().unwrap();
    // 50 requests 10 ms apart, one at a time, each taking 50 ms: most cannot be sent.
    run(
        arrivals(100.0, Duration::from_millis(500)),
        1,
        send,
        &recorder,
    )
    .await
    .unwrap();
    let stats = recorder.snapshot();
    assert_eq!(
        stats.requests() + stats.dropped(),
        50,
        "every arrival is accounted for"
    );
    assert!(stats.dropped() >= 25, "dropped {}", stats.dropped());
    assert_eq!(stats.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outcomes_and_functions_are_recorded_as_sent() {
    let send = |function: usize| async move {
        reply(if function == 1 {
            Outcome::Status(500)
        } else {
            Outcome::Status(200)
        })
    };
    let arrivals = (0..30).map(|n| Arrival {
        at: Duration::from_millis(n),
        function: (n % 3) as usize,
    });
    let recorder = Recorder::new().unwrap();
    run(arrivals.collect::<Vec<_>>(), 100, send, &recorder)
        .await
        .unwrap();
    let stats = recorder.snapshot();
    assert_eq!(stats.hits(), [10, 10, 10]);
    assert_eq!(stats.ok(), 20);
    assert_eq!(stats.errors_by_outcome()[&Outcome::Status(500)], 10);
    assert!(stats.send_lag_at(50.0).is_some(), "send lag is recorded");
}
