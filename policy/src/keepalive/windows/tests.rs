use super::*;
use crate::keepalive::PatternParams;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const FALLBACK: Duration = Duration::from_secs(300);

/// A pattern whose calls start at `starts` (seconds) and last `duration` seconds each.
fn calls(params: PatternParams, starts: &[f64], duration: f64) -> Pattern {
    let mut pattern = Pattern::new(params);
    for &start in starts {
        pattern.on_start(Duration::from_secs_f64(start));
        pattern.on_end(Duration::from_secs_f64(start + duration));
    }
    pattern
}

fn every(period: f64, count: usize) -> Vec<f64> {
    (0..count).map(|i| i as f64 * period).collect()
}

#[test]
fn a_function_called_once_is_unknown_and_gets_the_fallback() {
    let pattern = calls(PatternParams::default(), &[0.0], 1.0);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows, Windows::keep(FALLBACK));
}

#[test]
fn a_periodic_function_is_prewarmed_just_before_its_next_call() {
    // Every 10 minutes, 1 s each: idle 9m59s, the 10th one-minute bin (index 9).
    let pattern = calls(PatternParams::default(), &every(600.0, 12), 1.0);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows.prewarm, secs(9 * 60).mul_f64(0.9));
    assert_eq!(windows.keep_alive, secs(10 * 60).mul_f64(1.1));
}

#[test]
fn fewer_than_ten_idle_times_are_not_representative() {
    let pattern = calls(PatternParams::default(), &every(600.0, 10), 1.0);
    assert_eq!(pattern.idle_times().unwrap().in_range(), 9);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows, Windows::keep(FALLBACK));
}

#[test]
fn a_bursty_function_is_kept_from_its_end_until_its_long_gaps_tail() {
    // Bursts of 10 calls 5 s apart, bursts 2 h apart: idle times 4 s (bin 0) and ~2 h (bin 119).
    let mut starts = Vec::new();
    for burst in 0..6 {
        for i in 0..10 {
            starts.push(burst as f64 * 7200.0 + i as f64 * 5.0);
        }
    }
    let pattern = calls(PatternParams::default(), &starts, 1.0);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows.prewarm, Duration::ZERO, "the head is bin 0");
    assert_eq!(
        windows.keep_alive,
        secs(120 * 60).mul_f64(1.1),
        "the end of bin 119"
    );
}

#[test]
fn idle_times_spread_evenly_have_a_low_cv_and_get_the_fallback() {
    // Idle times 1, 2, ..., 120 minutes (and a bit): one per bin, CV 1.
    let mut starts = vec![0.0];
    for minutes in 1..=120 {
        let last = *starts.last().unwrap();
        starts.push(last + 1.0 + minutes as f64 * 60.0 + 1.0);
    }
    let pattern = calls(PatternParams::default(), &starts, 1.0);
    let histogram = pattern.idle_times().unwrap();
    assert!(histogram.bin_cv() < 2.0, "cv {}", histogram.bin_cv());
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows, Windows::keep(FALLBACK));
}

#[test]
fn a_daily_function_is_out_of_bounds_and_prewarmed_around_the_median_gap() {
    // Once a day; idle times of a day minus a second are beyond the 4 h histogram.
    let pattern = calls(PatternParams::default(), &every(86_400.0, 4), 1.0);
    let histogram = pattern.idle_times().unwrap();
    assert_eq!(histogram.out_of_bounds(), 3);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    let gap = 86_399.0;
    assert!((windows.prewarm.as_secs_f64() - gap * 0.85).abs() < 0.01);
    assert!((windows.keep_alive.as_secs_f64() - gap * 1.15).abs() < 0.01);
}

#[test]
fn the_out_of_bounds_rule_takes_the_median_of_the_last_eight() {
    // Gaps of 5 h, then 10 of 20 h: the median of the last 8 is 20 h.
    let mut starts = vec![0.0, 5.0 * 3600.0];
    for _ in 0..10 {
        let last = *starts.last().unwrap();
        starts.push(last + 20.0 * 3600.0);
    }
    let pattern = calls(PatternParams::default(), &starts, 0.0);
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows.prewarm, secs(20 * 3600).mul_f64(0.85));
}

#[test]
fn a_compressed_time_scale_scales_the_windows() {
    // The periodic function replayed 60× faster, with 1 s bins.
    let pattern = calls(
        PatternParams::compressed(60.0),
        &every(10.0, 12),
        1.0 / 60.0,
    );
    let windows = HistogramRule::default().windows(&pattern, FALLBACK);
    assert_eq!(windows.prewarm, secs(9).mul_f64(0.9));
    assert_eq!(windows.keep_alive, secs(10).mul_f64(1.1));
}
