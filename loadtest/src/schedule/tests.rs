use super::*;

#[test]
fn constant_rate_puts_the_nth_arrival_at_n_over_rate() {
    let offsets: Vec<Duration> = Schedule::Constant { rate: 1000.0 }
        .offsets()
        .take(4)
        .collect();
    assert_eq!(
        offsets,
        [0, 1, 2, 3].map(Duration::from_millis),
        "1000/s is one every millisecond, starting at 0"
    );
    let third = Schedule::Constant { rate: 3.0 }.offsets().nth(1).unwrap();
    assert_eq!(third, Duration::from_secs_f64(1.0 / 3.0));
}

#[test]
fn constant_rate_does_not_drift_over_a_million_arrivals() {
    let millionth = Schedule::Constant { rate: 1000.0 }
        .offsets()
        .nth(1_000_000)
        .unwrap();
    assert_eq!(millionth, Duration::from_secs(1000));
    let last = Schedule::Constant { rate: 7.0 }
        .offsets()
        .nth(700_000)
        .unwrap();
    assert_eq!(last, Duration::from_secs(100_000));
}

#[test]
fn offsets_within_stops_before_the_duration() {
    let n = Schedule::Constant { rate: 100.0 }
        .offsets_within(Duration::from_secs(2))
        .count();
    assert_eq!(n, 200, "0 s, 10 ms, ..., 1.99 s");
}

#[test]
fn poisson_mean_gap_is_one_over_rate_for_a_fixed_seed() {
    let schedule = Schedule::Poisson {
        rate: 500.0,
        seed: 7,
    };
    let offsets: Vec<Duration> = schedule.offsets().take(100_001).collect();
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]), "increasing");
    let mean_gap = offsets[100_000].as_secs_f64() / 100_000.0;
    let expected = 1.0 / 500.0;
    assert!(
        (mean_gap - expected).abs() / expected < 0.02,
        "mean gap {mean_gap} vs {expected}"
    );
    // Not evenly spaced: the gaps of a Poisson process vary (coefficient of variation 1).
    let gaps: Vec<f64> = offsets
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    let var = gaps.iter().map(|g| (g - mean_gap).powi(2)).sum::<f64>() / gaps.len() as f64;
    let cv = var.sqrt() / mean_gap;
    assert!((cv - 1.0).abs() < 0.05, "coefficient of variation {cv}");
}

#[test]
fn poisson_is_repeatable_with_the_same_seed() {
    let a: Vec<_> = Schedule::Poisson {
        rate: 10.0,
        seed: 1,
    }
    .offsets()
    .take(50)
    .collect();
    let b: Vec<_> = Schedule::Poisson {
        rate: 10.0,
        seed: 1,
    }
    .offsets()
    .take(50)
    .collect();
    let c: Vec<_> = Schedule::Poisson {
        rate: 10.0,
        seed: 2,
    }
    .offsets()
    .take(50)
    .collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_rate_that_is_not_positive_yields_nothing() {
    assert_eq!(Schedule::Constant { rate: 0.0 }.offsets().count(), 0);
    assert_eq!(
        Schedule::Poisson {
            rate: f64::NAN,
            seed: 0
        }
        .offsets()
        .count(),
        0
    );
}

#[test]
fn corrected_latency_counts_from_the_intended_start() {
    let intended = Instant::now();
    let done = intended + Duration::from_millis(1200);
    assert_eq!(
        corrected_latency(intended, done),
        Duration::from_millis(1200)
    );
    // A request that somehow finished "before" its slot (clock quirks) is not negative.
    assert_eq!(corrected_latency(done, intended), Duration::ZERO);
}
