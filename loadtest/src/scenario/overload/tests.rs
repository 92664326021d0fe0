use super::*;
use crate::stats::Outcome;

const BOUND: Bound = Bound {
    max_probe_p99: Duration::from_millis(50),
};

/// A flooded probe: `ok` answers of `latency`, then `failed` 503s.
fn probe(ok: u64, latency: Duration, failed: u64) -> Stats {
    let mut stats = Stats::new().unwrap();
    for _ in 0..ok {
        stats.record(0, Outcome::Status(200), latency);
    }
    for _ in 0..failed {
        stats.record(0, Outcome::Status(503), latency);
    }
    stats
}

/// A flood that was mostly refused, properly.
fn refused() -> FloodCounts {
    FloodCounts {
        ok: 500,
        too_many_requests: 90_000,
        unavailable: 10,
        ..FloodCounts::default()
    }
}

#[test]
fn a_gateway_that_held_up_passes() {
    let flooded = probe(2000, Duration::from_millis(3), 0);
    assert_eq!(
        BOUND.check(&flooded, &refused(), true),
        Vec::<String>::new()
    );
}

#[test]
fn a_slow_probe_fails_with_both_figures() {
    let flooded = probe(2000, Duration::from_millis(80), 0);
    let failures = BOUND.check(&flooded, &refused(), true);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].contains("--max-probe-p99 50.000 ms"),
        "{}",
        failures[0]
    );
    assert!(failures[0].contains("80."), "{}", failures[0]);
}

#[test]
fn a_refusal_without_retry_after_fails() {
    let flooded = probe(2000, Duration::from_millis(3), 0);
    let counts = FloodCounts {
        missing_retry_after: 3,
        ..refused()
    };
    let failures = BOUND.check(&flooded, &counts, true);
    assert_eq!(
        failures,
        ["3 of 90010 429/503 answers to the flood had no Retry-After"]
    );
}

#[test]
fn a_gateway_that_stops_answering_fails() {
    let dead = probe(0, Duration::ZERO, 0);
    let no_answer = FloodCounts {
        transport: 1000,
        ..FloodCounts::default()
    };
    let failures = BOUND.check(&dead, &no_answer, false);
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert!(failures[0].starts_with("no probe request succeeded"));
    assert!(failures[1].starts_with("the flood got no HTTP answer"));
    assert!(failures[2].starts_with("the gateway did not answer"));
}

#[test]
fn a_probe_failing_more_than_one_percent_fails_but_one_reconnect_does_not() {
    let fine = probe(1999, Duration::from_millis(3), 1);
    assert!(BOUND.check(&fine, &refused(), true).is_empty());
    let failing = probe(1900, Duration::from_millis(3), 100);
    let failures = BOUND.check(&failing, &refused(), true);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("100 of 2000 probe requests failed"),
        "{}",
        failures[0]
    );
    assert!(failures[0].contains("503 x100"), "{}", failures[0]);
}

#[test]
fn facts_give_the_flooded_over_baseline_ratios() {
    let baseline = probe(100, Duration::from_millis(2), 0);
    let flooded = probe(100, Duration::from_millis(3), 0);
    let overload = Overload {
        flood_url: Target::parse("http://127.0.0.1:1/fn/slow").unwrap(),
        flood_headers: http::HeaderMap::new(),
        connections: 1000,
        max_probe_p99: Duration::from_millis(50),
    };
    let facts = facts(&baseline, &flooded, &refused(), &overload, true);
    let fact = |name: &str| facts.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    let ratio = fact("probe_p99_ratio").unwrap();
    assert!((ratio - 1.5).abs() < 0.01, "{ratio}");
    assert_eq!(fact("flood_429"), Some(90_000.0));
    assert_eq!(fact("flood_503"), Some(10.0));
    assert_eq!(fact("max_probe_p99_ms"), Some(50.0));
    assert_eq!(fact("answering_after"), Some(1.0));
}
