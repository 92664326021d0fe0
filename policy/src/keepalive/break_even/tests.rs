use super::*;
use crate::keepalive::PatternParams;
use proptest::prelude::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const FALLBACK: Duration = Duration::from_secs(300);
/// About a Rust component's footprint (loadtest/costs/default.json).
const SMALL: u64 = 380 << 10;
/// About a JavaScript component's.
const LARGE: u64 = 36 << 20;

/// A pattern whose calls start after the idle `gaps` (seconds) and last one second each.
fn after_gaps(gaps: impl IntoIterator<Item = f64>) -> Pattern {
    let mut pattern = Pattern::new(PatternParams::default());
    let mut at = 0.0;
    pattern.on_start(Duration::ZERO);
    pattern.on_end(secs(1));
    for gap in gaps {
        at += 1.0 + gap;
        pattern.on_start(Duration::from_secs_f64(at));
        pattern.on_end(Duration::from_secs_f64(at + 1.0));
    }
    pattern
}

/// `n` exponentially distributed idle times of mean `mean` seconds (a fixed-seed LCG, so the
/// tests are deterministic).
fn exponential(n: usize, mean: f64) -> Vec<f64> {
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let u = ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
            -mean * u.ln()
        })
        .collect()
}

#[test]
fn the_worth_reads_and_writes_bytes_times_a_duration() {
    let worth: ColdStartWorth = "64MiB*10m".parse().unwrap();
    assert_eq!(worth, ColdStartWorth::DEFAULT);
    assert_eq!(worth.to_string(), "64MiB*10m");
    assert_eq!("64 MiB × 10m".parse::<ColdStartWorth>().unwrap(), worth);
    assert_eq!("67108864x600s".parse::<ColdStartWorth>().unwrap(), worth);
    let decimal: ColdStartWorth = "500MB*1h".parse().unwrap();
    assert_eq!(decimal.byte_seconds(), 500e6 * 3600.0);
    assert_eq!(
        decimal.to_string().parse::<ColdStartWorth>().unwrap(),
        decimal
    );
    for (text, says) in [
        ("64MiB", "BYTES*DURATION"),
        ("64 apples*10m", "is not a size"),
        ("64MiB*often", "is not a duration"),
        ("0B*10m", "above zero"),
        ("64MiB*0s", "above zero"),
        ("99999999999GiB*1s", "is not a size"),
    ] {
        let message = text.parse::<ColdStartWorth>().unwrap_err().to_string();
        assert!(message.contains(says), "{text}: {message}");
    }
}

#[test]
fn break_even_is_the_worth_over_the_bytes() {
    let worth = ColdStartWorth::DEFAULT;
    assert_eq!(worth.break_even(64 << 20), secs(600));
    assert_eq!(worth.break_even(32 << 20), secs(1200));
    assert_eq!(worth.break_even(0), Duration::MAX);
}

#[test]
fn an_unknown_function_is_kept_until_it_breaks_even_and_at_least_the_fallback() {
    let rule = BreakEvenRule::default();
    let once = after_gaps([]);
    assert_eq!(
        rule.windows(&once, FALLBACK, 64 << 20),
        Windows::keep(secs(600))
    );
    // A 0.37 MiB component is worth keeping about 29 hours; a 36 MiB one about 18 minutes.
    let small = rule.windows(&once, FALLBACK, SMALL).keep_alive;
    let large = rule.windows(&once, FALLBACK, LARGE).keep_alive;
    assert_eq!(small, ColdStartWorth::DEFAULT.break_even(SMALL));
    assert!(
        small > secs(24 * 3600) && large < secs(20 * 60),
        "{small:?} {large:?}"
    );
    // Past the break-even the manifest's idle_timeout still holds.
    assert_eq!(
        rule.windows(&once, FALLBACK, 1 << 30),
        Windows::keep(FALLBACK)
    );
    // Fewer than ten idle times are still unknown.
    let nine = after_gaps([30.0; 9]);
    assert_eq!(
        rule.windows(&nine, FALLBACK, LARGE),
        Windows::keep(ColdStartWorth::DEFAULT.break_even(LARGE))
    );
}

#[test]
fn a_periodic_function_is_loaded_only_around_its_next_call() {
    // Idle 9m59s between calls: all in the bin from 9 to 10 minutes.
    let pattern = after_gaps([599.0; 12]);
    for bytes in [SMALL, LARGE] {
        let windows = BreakEvenRule::default().windows(&pattern, FALLBACK, bytes);
        assert_eq!(
            windows,
            Windows {
                prewarm: secs(9 * 60),
                keep_alive: secs(10 * 60),
            },
            "{bytes} bytes"
        );
    }
}

#[test]
fn memoryless_calls_are_kept_for_good_when_cheap_and_unloaded_at_once_when_not() {
    // Calls at random with a mean gap of 40 minutes: waiting is never more likely to pay off
    // later than now, so the best keep-alive is all (the range) or nothing.
    let pattern = after_gaps(exponential(400, 2400.0));
    let rule = BreakEvenRule::default();
    // 36 MiB × 40 min per gap costs more than the 64 MiB × 10 min a cold start is worth.
    assert_eq!(
        rule.windows(&pattern, FALLBACK, LARGE),
        Windows::keep(Duration::ZERO)
    );
    // 0.37 MiB × 40 min costs far less: kept across nearly every gap.
    let small = rule.windows(&pattern, FALLBACK, SMALL);
    assert_eq!(small.prewarm, Duration::ZERO);
    assert!(small.keep_alive >= secs(3 * 3600), "{small:?}");
    // Frequent calls (a mean gap of 20 s) keep even a large function loaded.
    let frequent = after_gaps(exponential(400, 20.0));
    let large = rule.windows(&frequent, FALLBACK, LARGE);
    assert_eq!(large.prewarm, Duration::ZERO);
    assert!(large.keep_alive >= secs(120), "{large:?}");
}

#[test]
fn a_bursty_large_function_is_kept_through_its_bursts_and_unloaded_between_them() {
    // Bursts of 20 calls 5 s apart, an hour and a half between bursts.
    let gaps = (0..200).map(|i| if i % 20 == 19 { 5400.0 } else { 5.0 });
    let pattern = after_gaps(gaps);
    let windows = BreakEvenRule::default().windows(&pattern, FALLBACK, LARGE);
    assert_eq!(windows, Windows::keep(secs(60)));
    // A small one is kept across the pauses too.
    let small = BreakEvenRule::default().windows(&pattern, FALLBACK, SMALL);
    assert!(small.keep_alive > secs(5400), "{small:?}");
}

#[test]
fn out_of_bounds_functions_get_sitws_window_only_when_it_is_worth_holding() {
    // Called once a day: every idle time past the four-hour histogram.
    let pattern = after_gaps([86_398.0; 12]);
    let rule = BreakEvenRule::default();
    // Holding 0.37 MiB for the 30 % of a day around the next call costs less than a cold start.
    let small = rule.windows(&pattern, FALLBACK, SMALL);
    assert_eq!(small, rule.histogram.windows(&pattern, FALLBACK));
    assert!(small.prewarm > secs(20 * 3600), "{small:?}");
    // Holding 36 MiB for it does not: kept until it breaks even, like an unknown function.
    assert_eq!(
        rule.windows(&pattern, FALLBACK, LARGE),
        Windows::keep(ColdStartWorth::DEFAULT.break_even(LARGE))
    );
}

#[test]
fn a_higher_worth_keeps_functions_longer() {
    let pattern = after_gaps(exponential(400, 2400.0));
    let cheap: ColdStartWorth = "64MiB*10m".parse().unwrap();
    let dear: ColdStartWorth = "1GiB*1h".parse().unwrap();
    let keep = |worth| {
        BreakEvenRule {
            worth,
            ..BreakEvenRule::default()
        }
        .windows(&pattern, FALLBACK, LARGE)
        .keep_alive
    };
    assert!(
        keep(dear) > keep(cheap),
        "{:?} {:?}",
        keep(dear),
        keep(cheap)
    );
}

proptest! {
    /// Whatever the idle times and sizes, the pre-warm comes no later than the unload and a
    /// known function is never held past the histogram's range.
    #[test]
    fn windows_are_ordered_and_bounded(
        gaps in proptest::collection::vec(0.0f64..30_000.0, 0..60),
        bytes in 0u64..(1 << 31),
    ) {
        let pattern = after_gaps(gaps.iter().copied());
        let windows = BreakEvenRule::default().windows(&pattern, FALLBACK, bytes);
        prop_assert!(windows.prewarm <= windows.keep_alive);
        let known = pattern
            .idle_times()
            .is_some_and(|h| h.in_range() + h.out_of_bounds() >= 10 && h.out_of_bounds_share() < 0.5);
        if known {
            prop_assert!(windows.keep_alive <= DEFAULT_RANGE);
        }
    }
}

/// The histogram's range with one-minute bins: four hours.
const DEFAULT_RANGE: Duration = Duration::from_secs(4 * 3600);
