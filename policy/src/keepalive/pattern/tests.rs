use super::*;
use crate::keepalive::BINS;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn a_function_never_called_twice_holds_no_histogram() {
    let mut pattern = Pattern::default();
    assert_eq!(pattern.heap_bytes(), 0);
    pattern.on_start(secs(1));
    pattern.on_end(secs(2));
    assert_eq!(pattern.heap_bytes(), 0);
    assert!(pattern.idle_times().is_none());
}

#[test]
fn a_call_overlapping_the_previous_one_records_no_idle_time() {
    let mut pattern = Pattern::default();
    pattern.on_start(secs(1));
    pattern.on_start(secs(2));
    assert_eq!(pattern.in_flight(), 2);
    pattern.on_end(secs(3));
    pattern.on_end(secs(4));
    assert_eq!(pattern.in_flight(), 0);
    assert_eq!(
        pattern.heap_bytes(),
        0,
        "no call began while none was in flight"
    );
    assert_eq!(pattern.last_end(), Some(secs(4)));
    assert_eq!(pattern.calls(), 2);
}

#[test]
fn the_second_call_allocates_the_histogram_within_the_idle_function_budget() {
    let mut pattern = Pattern::default();
    pattern.on_start(secs(0));
    pattern.on_end(secs(1));
    pattern.on_start(secs(1 + 150));
    let heap = pattern.heap_bytes();
    assert!(heap >= BINS * 2, "240 u16 bins at least, got {heap}");
    // The node's target is ≤ 5 KiB per idle function; the pattern must leave most of it.
    assert!(
        heap + size_of::<Pattern>() <= 1024,
        "pattern takes {heap} + {} bytes",
        size_of::<Pattern>()
    );
    let histogram = pattern.idle_times().unwrap();
    assert_eq!(histogram.in_range(), 1);
    assert_eq!(histogram.bins()[2], 1, "150 s idle is in the third minute");
}

#[test]
fn idle_times_are_measured_from_the_last_end_in_bins_of_the_given_width() {
    let mut pattern = Pattern::new(PatternParams {
        bin: Duration::from_millis(100),
        ..PatternParams::default()
    });
    pattern.on_start(secs(0));
    pattern.on_end(Duration::from_millis(500));
    pattern.on_start(Duration::from_millis(1_750));
    let histogram = pattern.idle_times().unwrap();
    assert_eq!(histogram.bins()[12], 1, "1.25 s in 100 ms bins is bin 12");
    // Beyond 240 bins (24 s) an idle time is out of bounds.
    pattern.on_end(secs(2));
    pattern.on_start(secs(30));
    let histogram = pattern.idle_times().unwrap();
    assert_eq!(histogram.out_of_bounds(), 1);
    assert_eq!(histogram.recent_out_of_bounds_median(), Some(secs(28)));
}

#[test]
fn compressed_params_scale_the_bin_and_the_half_life() {
    let params = PatternParams::compressed(60.0);
    assert_eq!(params.bin, secs(1));
    assert_eq!(params.half_life, secs(60));
    assert_eq!(PatternParams::compressed(0.0), PatternParams::default());
}

#[test]
fn frequency_halves_every_half_life() {
    let mut pattern = Pattern::default();
    for _ in 0..4 {
        pattern.on_start(secs(0));
        pattern.on_end(secs(0));
    }
    assert_eq!(pattern.frequency(secs(0)), 4.0);
    assert!((pattern.frequency(secs(3600)) - 2.0).abs() < 1e-9);
    assert!((pattern.frequency(secs(7200)) - 1.0).abs() < 1e-9);
    pattern.on_start(secs(7200));
    assert!((pattern.frequency(secs(7200)) - 2.0).abs() < 1e-9);
    assert!((pattern.frequency(secs(10800)) - 1.0).abs() < 1e-9);
}

#[test]
fn a_full_bin_halves_every_count_and_keeps_the_out_of_bounds_share() {
    let mut histogram = IdleHistogram::default();
    let bin = secs(60);
    for _ in 0..u16::MAX {
        histogram.record(secs(30), bin);
    }
    for _ in 0..100 {
        histogram.record(secs(90), bin);
    }
    histogram.record(secs(5 * 3600), bin);
    histogram.record(secs(5 * 3600), bin);
    assert_eq!(histogram.bins()[0], u16::MAX);
    histogram.record(secs(1), bin);
    assert_eq!(histogram.bins()[0], u16::MAX / 2 + 1);
    assert_eq!(histogram.bins()[1], 50);
    assert_eq!(histogram.out_of_bounds(), 1);
    assert_eq!(histogram.in_range(), u32::from(u16::MAX / 2 + 1) + 50);
}

#[test]
fn percentiles_and_cv_follow_the_counts() {
    let mut histogram = IdleHistogram::default();
    let bin = secs(1);
    assert_eq!(histogram.percentile_bin(0.5), None);
    assert_eq!(histogram.bin_cv(), 0.0);
    // 95 idle times in bin 3, 5 in bin 200.
    for _ in 0..95 {
        histogram.record(Duration::from_millis(3_500), bin);
    }
    for _ in 0..5 {
        histogram.record(secs(200), bin);
    }
    assert_eq!(histogram.percentile_bin(0.05), Some(3));
    assert_eq!(histogram.percentile_bin(0.95), Some(3));
    assert_eq!(histogram.percentile_bin(0.96), Some(200));
    assert_eq!(histogram.percentile_bin(0.99), Some(200));
    // Mean 100/240; Σc² = 95² + 5² = 9050.
    let mean = 100.0 / 240.0;
    let expected = ((9050.0 - 240.0 * mean * mean) / 239.0_f64).sqrt() / mean;
    assert!((histogram.bin_cv() - expected).abs() < 1e-9);
}
