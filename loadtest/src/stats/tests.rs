use super::*;

const OK: Outcome = Outcome::Status(200);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// 1, 2, ..., 1000 ms, all successful, to function 0.
fn one_to_a_thousand_ms() -> Stats {
    let mut stats = Stats::new().unwrap();
    for n in 1..=1000 {
        stats.record(0, OK, ms(n));
    }
    stats
}

/// Asserts `actual` is within the histogram's 0.1 % precision of `expected`.
fn assert_close(actual: Option<Duration>, expected: Duration) {
    let actual = actual.unwrap().as_secs_f64();
    let expected = expected.as_secs_f64();
    assert!(
        (actual - expected).abs() <= expected * 0.001,
        "{actual} vs {expected}"
    );
}

#[test]
fn percentiles_of_known_samples() {
    let stats = one_to_a_thousand_ms();
    assert_close(stats.latency_at(50.0), ms(500));
    assert_close(stats.latency_at(90.0), ms(900));
    assert_close(stats.latency_at(99.0), ms(990));
    // 99.9 % of 1000 lands on the boundary between the 999th and 1000th sample.
    let p999 = stats.latency_at(99.9).unwrap();
    assert!(p999 >= ms(999) && p999 <= ms(1001), "{p999:?}");
    assert_close(stats.latency_max(), ms(1000));
    assert_close(stats.latency_mean(), Duration::from_micros(500_500));
}

#[test]
fn sub_millisecond_latencies_keep_microsecond_resolution() {
    let mut stats = Stats::new().unwrap();
    stats.record(0, OK, Duration::from_micros(87));
    stats.record(0, OK, Duration::from_nanos(300));
    assert_eq!(stats.latency_max(), Some(Duration::from_micros(87)));
    assert_eq!(
        stats.latency_at(0.0),
        Some(Duration::from_micros(1)),
        "below a microsecond counts as one"
    );
}

#[test]
fn an_empty_histogram_has_no_percentiles() {
    let mut stats = Stats::new().unwrap();
    stats.record(0, Outcome::Status(503), ms(1));
    assert_eq!(stats.latency_at(50.0), None);
    assert_eq!(stats.latency_max(), None);
    assert_eq!(stats.latency_mean(), None);
}

#[test]
fn non_2xx_and_transport_failures_are_errors_by_kind_and_stay_out_of_the_histogram() {
    let mut stats = Stats::new().unwrap();
    stats.record(0, OK, ms(1));
    stats.record(0, Outcome::Status(204), ms(1));
    stats.record(0, Outcome::Status(503), ms(1000));
    stats.record(0, Outcome::Status(503), ms(1000));
    stats.record(0, Outcome::Status(404), ms(1000));
    stats.record(0, Outcome::Status(302), ms(1000));
    stats.record(0, Outcome::Timeout, ms(1000));
    stats.record(0, Outcome::Connect, ms(1000));
    stats.record_dropped();
    assert_eq!(stats.requests(), 8);
    assert_eq!(stats.ok(), 2);
    assert_eq!(stats.errors(), 6);
    assert_eq!(stats.dropped(), 1);
    let by_kind: Vec<(String, u64)> = stats
        .errors_by_outcome()
        .iter()
        .map(|(o, n)| (o.to_string(), *n))
        .collect();
    assert_eq!(
        by_kind,
        [
            ("302".to_owned(), 1),
            ("404".to_owned(), 1),
            ("503".to_owned(), 2),
            ("timeout".to_owned(), 1),
            ("connect".to_owned(), 1)
        ]
    );
    assert_eq!(
        stats.latency_max(),
        Some(ms(1)),
        "slow failures are not latency samples"
    );
}

#[test]
fn throughput_is_ok_requests_over_elapsed_time() {
    let mut stats = Stats::new().unwrap();
    assert_eq!(stats.throughput(), 0.0, "no time, no throughput");
    for _ in 0..300 {
        stats.record(0, OK, ms(1));
    }
    for _ in 0..100 {
        stats.record(0, Outcome::Status(500), ms(1));
    }
    stats.finish_run(Duration::from_secs(2));
    assert_eq!(
        stats.throughput(),
        150.0,
        "errors do not count as throughput"
    );
}

#[test]
fn merging_two_runs_adds_samples_counts_and_time() {
    let mut a = one_to_a_thousand_ms();
    a.record(1, Outcome::Status(503), ms(1));
    a.finish_run(Duration::from_secs(1));
    let mut b = Stats::new().unwrap();
    for _ in 0..1000 {
        b.record(2, OK, ms(2000));
    }
    b.record(0, Outcome::Status(503), ms(1));
    b.record(0, Outcome::Timeout, ms(1));
    b.record_dropped();
    b.record_send_lag(ms(3));
    b.finish_run(Duration::from_secs(3));

    a.merge(&b).unwrap();
    assert_eq!(a.ok(), 2000);
    assert_eq!(a.errors(), 3);
    assert_eq!(a.errors_by_outcome()[&Outcome::Status(503)], 2);
    assert_eq!(a.dropped(), 1);
    assert_eq!(a.runs(), 2);
    assert_eq!(a.elapsed(), Duration::from_secs(4));
    assert_eq!(a.throughput(), 500.0);
    // Half the samples are 1..1000 ms, half are 2 s: the median sits at the top of the first half.
    assert_close(a.latency_at(50.0), ms(1000));
    assert_close(a.latency_at(75.0), ms(2000));
    assert_eq!(a.hits(), [1002, 1, 1000]);
    assert_close(a.send_lag_at(100.0), ms(3));
}

#[test]
fn share_of_top_functions() {
    let mut stats = Stats::new().unwrap();
    for (function, n) in [(0, 10), (1, 60), (2, 20), (3, 10)] {
        for _ in 0..n {
            stats.record(function, OK, ms(1));
        }
    }
    assert_eq!(stats.share_of_top(1), 0.6);
    assert_eq!(stats.share_of_top(2), 0.8);
    assert_eq!(stats.share_of_top(10), 1.0);
    assert_eq!(Stats::new().unwrap().share_of_top(1), 0.0);
}

#[test]
fn the_recorder_counts_what_its_clones_record() {
    let recorder = Recorder::new().unwrap();
    let clone = recorder.clone();
    clone.record(0, OK, ms(1));
    clone.record(0, Outcome::Transport, ms(1));
    clone.with(Stats::record_dropped);
    assert_eq!(
        recorder.counts(),
        Counts {
            requests: 2,
            errors: 1,
            dropped: 1
        }
    );
    assert_eq!(recorder.snapshot().ok(), 1);
}
