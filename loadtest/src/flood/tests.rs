use super::*;

fn reply(outcome: Outcome, retry_after: bool) -> Reply {
    Reply {
        outcome,
        headers_at: None,
        done_at: Instant::now(),
        retry_after,
    }
}

#[test]
fn outcomes_are_counted_by_overload_class() {
    let mut stats = Stats::new().unwrap();
    let ms = Duration::from_millis(1);
    for (outcome, n) in [
        (Outcome::Status(200), 3),
        (Outcome::Status(204), 1),
        (Outcome::Status(429), 5),
        (Outcome::Status(503), 2),
        (Outcome::Status(500), 1),
        (Outcome::Status(404), 1),
        (Outcome::Timeout, 4),
        (Outcome::Connect, 6),
        (Outcome::Transport, 7),
    ] {
        for _ in 0..n {
            stats.record(0, outcome, ms);
        }
    }
    let counts = FloodCounts::of(&stats, 2);
    assert_eq!(
        counts,
        FloodCounts {
            ok: 4,
            too_many_requests: 5,
            unavailable: 2,
            other_status: 2,
            timeouts: 4,
            transport: 13,
            missing_retry_after: 2,
        }
    );
    assert_eq!(counts.requests(), stats.requests());
}

#[test]
fn only_refusals_owe_a_retry_after() {
    assert!(lacks_retry_after(&reply(Outcome::Status(429), false)));
    assert!(lacks_retry_after(&reply(Outcome::Status(503), false)));
    assert!(!lacks_retry_after(&reply(Outcome::Status(429), true)));
    assert!(!lacks_retry_after(&reply(Outcome::Status(503), true)));
    for outcome in [
        Outcome::Status(200),
        Outcome::Status(500),
        Outcome::Timeout,
        Outcome::Transport,
    ] {
        assert!(!lacks_retry_after(&reply(outcome, false)), "{outcome}");
    }
}
