use super::*;
use crate::trace::Trace;

fn shape(functions: usize, days: f64, seed: u64) -> Shape {
    Shape {
        functions,
        days,
        seed,
        max_rate: DEFAULT_MAX_RATE,
    }
}

/// Per function: its calls' starts, in order.
fn starts_by_function(shape: &Shape) -> Vec<Vec<f64>> {
    let mut starts = vec![Vec::new(); shape.functions];
    for (start, _, function) in shape.calls().unwrap() {
        starts[function as usize].push(start);
    }
    starts
}

fn cv(starts: &[f64]) -> f64 {
    let gaps: Vec<f64> = starts.windows(2).map(|w| w[1] - w[0]).collect();
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
    var.sqrt() / mean
}

#[test]
fn the_trace_has_sitws_shape() {
    let shape = shape(600, 3.0, 11);
    let span_min = shape.days * 1440.0;
    let starts = starts_by_function(&shape);
    let n = shape.functions as f64;
    assert!(
        starts.iter().all(|s| !s.is_empty()),
        "every function is called"
    );

    // Rates: 45 % at most one call an hour, 81 % at most one a minute.
    let rates: Vec<f64> = starts.iter().map(|s| s.len() as f64 / span_min).collect();
    let share = |limit: f64| rates.iter().filter(|&&r| r <= limit).count() as f64 / n;
    let hourly = share(1.0 / 60.0);
    let minutely = share(1.0);
    assert!((hourly - 0.45).abs() < 0.06, "≤ 1/h: {hourly}");
    assert!((minutely - 0.81).abs() < 0.06, "≤ 1/min: {minutely}");

    // The ≥ 1/min functions carry almost all calls.
    let total: usize = starts.iter().map(Vec::len).sum();
    let hot: usize = starts
        .iter()
        .zip(&rates)
        .filter(|(_, r)| **r > 1.0)
        .map(|(s, _)| s.len())
        .sum();
    let hot_share = hot as f64 / total as f64;
    assert!(hot_share > 0.85, "hot functions carry {hot_share}");

    // IAT CV: about 40 % above 1 (bursty), about 20 % near 0 (timers).
    let measurable: Vec<f64> = starts
        .iter()
        .filter(|s| s.len() >= 10)
        .map(|s| cv(s))
        .collect();
    let m = measurable.len() as f64;
    assert!(m > 0.4 * n, "{m} functions with ≥ 10 calls");
    let bursty = measurable.iter().filter(|&&c| c > 1.0).count() as f64 / m;
    let periodic = measurable.iter().filter(|&&c| c < 0.1).count() as f64 / m;
    assert!((bursty - 0.40).abs() < 0.08, "CV > 1: {bursty}");
    assert!((periodic - 0.20).abs() < 0.07, "CV ≈ 0: {periodic}");
}

#[test]
fn arrivals_follow_the_day() {
    let calls = shape(300, 3.0, 5).calls().unwrap();
    let hour = |start: f64| (start % DAY) / 3600.0;
    let peak = calls
        .iter()
        .filter(|c| (11.0..17.0).contains(&hour(c.0)))
        .count();
    let trough = calls
        .iter()
        .filter(|c| !(5.0..23.0).contains(&hour(c.0)))
        .count();
    let ratio = peak as f64 / trough as f64;
    assert!(ratio > 1.8, "peak/trough {ratio}");
    assert!((diurnal(14.0 * 3600.0) - 1.5).abs() < 1e-9);
    for u in [0.0, 1_000.0, 50_000.0, 200_000.0] {
        assert!((diurnal_integral(diurnal_inverse(u)) - u).abs() < 1e-3);
    }
}

#[test]
fn durations_are_heavy_tailed_around_a_second() {
    let calls = shape(300, 1.0, 5).calls().unwrap();
    let mut durations: Vec<f32> = calls.iter().map(|c| c.1).collect();
    durations.sort_by(f32::total_cmp);
    let at = |p: f64| durations[((durations.len() - 1) as f64 * p) as usize];
    assert!((0.4..2.5).contains(&at(0.5)), "median {}", at(0.5));
    assert!(
        at(0.99) > 8.0 * at(0.5),
        "p99 {} vs median {}",
        at(0.99),
        at(0.5)
    );
    assert!(durations.iter().all(|&d| (0.001..=600.0).contains(&d)));
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_another() {
    let a = shape(50, 0.5, 1).calls().unwrap();
    assert_eq!(a, shape(50, 0.5, 1).calls().unwrap());
    assert_ne!(a, shape(50, 0.5, 2).calls().unwrap());
    // Function i's calls do not depend on how many functions follow it.
    let first = |calls: &[GeneratedCall]| -> Vec<GeneratedCall> {
        calls.iter().filter(|c| c.2 == 0).copied().collect()
    };
    assert_eq!(first(&a), first(&shape(80, 0.5, 1).calls().unwrap()));
}

#[test]
fn the_csv_parses_back_as_an_azure_2021_trace() {
    let shape = shape(40, 0.25, 3);
    let mut csv = Vec::new();
    let generated = generate(&shape, &mut csv).unwrap();
    assert_eq!(generated.functions, 40);
    let trace = Trace::from_reader(csv.as_slice()).unwrap();
    assert_eq!(trace.invocations(), generated.calls);
    assert_eq!(trace.functions().len(), 40);
    assert!(trace.span().as_secs_f64() <= 0.25 * DAY + 1.0);
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("app,func,end_timestamp,duration\n"));
}

#[test]
fn impossible_shapes_are_refused_with_a_fix() {
    for (bad, says) in [
        (shape(0, 1.0, 1), "--functions 0"),
        (shape(1, 0.0, 1), "--days 0"),
        (
            Shape {
                max_rate: 0.5,
                ..shape(1, 1.0, 1)
            },
            "--max-rate 0.5",
        ),
    ] {
        let message = generate(&bad, Vec::new()).unwrap_err().to_string();
        assert!(message.contains(says), "{message}");
    }
}
