use super::*;
use crate::workload::Call;

const GIB: f64 = (1u64 << 30) as f64;

/// One kind: 1,000 B of code, 100 B linked, 900 B of instances (2,000 B in all); cold 1 ms.
fn costs() -> Costs {
    Costs::from_json(
        r#"{"note": "test", "kinds": [{"name": "k", "weight": 1, "code_bytes": 1000,
        "linked_bytes": 100, "instance_bytes": 900, "cold_start_ms": 1.0, "warm_ms": 0.1}]}"#,
    )
    .unwrap()
}

/// `(function, start s, duration s)` calls over functions `f0`, `f1`, ...
fn workload(calls: &[(u32, f64, f64)]) -> Workload {
    let functions = calls.iter().map(|c| c.0).max().map_or(0, |m| m + 1);
    Workload::new(
        (0..functions).map(|f| format!("app/f{f}")).collect(),
        calls
            .iter()
            .map(|&(f, start, duration)| {
                Call::new(
                    f,
                    Duration::from_secs_f64(start),
                    Duration::from_secs_f64(duration),
                )
            })
            .collect(),
    )
    .unwrap()
}

fn run(calls: &[(u32, f64, f64)], policy: &str, memory: u64) -> Report {
    simulate(
        &workload(calls),
        &costs(),
        &Config::new(policy.parse().unwrap(), memory),
    )
    .unwrap()
}

#[test]
fn a_call_is_cold_when_its_code_left_before_it_started() {
    let calls = [(0, 0.0, 1.0), (0, 600.0, 1.0)];
    // Idle 599 s: kept by a 10-minute keep-alive, not by a 5-minute one.
    assert_eq!(run(&calls, "fixed:10m", u64::MAX).cold_starts, 1);
    assert_eq!(run(&calls, "fixed:5m", u64::MAX).cold_starts, 2);
    assert_eq!(
        run(&calls, "fixed", u64::MAX).cold_starts,
        2,
        "idle_timeout 5 min"
    );
    assert_eq!(run(&calls, "lru", u64::MAX).cold_starts, 1);
    let none = run(&calls, "none", u64::MAX);
    assert_eq!(none.cold_starts, 2);
    assert_eq!(none.cold_start_ratio, 1.0);
    assert!((none.cold_start_time_s - 0.002).abs() < 1e-12);
}

#[test]
fn memory_time_counts_every_layer_and_wasted_time_the_idle_part() {
    let report = run(&[(0, 0.0, 1.0), (0, 300.0, 1.0)], "fixed:10m", u64::MAX);
    // 2,000 B from 0 to the trace's end at 301 s; idle from 1 to 300.
    assert!((report.memory_seconds * GIB - 2_000.0 * 301.0).abs() < 1e-6);
    assert!((report.wasted_memory_seconds * GIB - 2_000.0 * 299.0).abs() < 1e-6);
    assert_eq!(report.peak_resident_bytes, 2_000);
    let none = run(&[(0, 0.0, 1.0), (0, 300.0, 1.0)], "none", u64::MAX);
    assert!((none.memory_seconds * GIB - 2_000.0 * 2.0).abs() < 1e-6);
    assert_eq!(none.wasted_memory_seconds, 0.0);
}

#[test]
fn the_budget_makes_two_alternating_functions_evict_each_other() {
    let calls: Vec<_> = (0..10).map(|i| (i % 2, i as f64 * 10.0, 1.0)).collect();
    let roomy = run(&calls, "lru", 4_000);
    assert_eq!(roomy.cold_starts, 2);
    let tight = run(&calls, "lru", 3_000);
    assert_eq!(tight.cold_starts, 10);
    assert_eq!(tight.evictions, 9);
    assert!(tight.peak_node_resident_bytes <= 3_000);
}

#[test]
fn a_periodic_function_is_prewarmed_and_wastes_far_less_than_a_fixed_keep_alive() {
    // Every 10 minutes for 5 hours.
    let calls: Vec<_> = (0..30).map(|i| (0, i as f64 * 600.0, 1.0)).collect();
    let hybrid = run(&calls, "hybrid", u64::MAX);
    let adaptive = run(&calls, "adaptive", u64::MAX);
    let fixed = run(&calls, "fixed:10m", u64::MAX);
    assert_eq!(fixed.cold_starts, 1);
    // SitW: cold until the histogram holds 10 idle times (the fallback is 5 min), warm after.
    assert_eq!(hybrid.cold_starts, 11);
    assert_eq!(hybrid.prewarms, 19);
    assert_eq!(hybrid.prewarms_used, 19);
    // Break-even: a function this small is worth keeping while its pattern is unknown, so
    // only the first call is cold; then it is pre-warmed as SitW does.
    assert_eq!(adaptive.cold_starts, 1);
    assert_eq!(adaptive.prewarms, 19);
    assert_eq!(adaptive.prewarms_used, 19);
    for policy in [&hybrid, &adaptive] {
        assert!(
            policy.wasted_memory_seconds < fixed.wasted_memory_seconds / 2.0,
            "{} vs {}",
            policy.wasted_memory_seconds,
            fixed.wasted_memory_seconds
        );
    }
}

#[test]
fn the_warm_up_is_replayed_but_not_measured() {
    let calls: Vec<_> = (0..30).map(|i| (0, i as f64 * 600.0, 1.0)).collect();
    let mut config = Config::new("adaptive".parse().unwrap(), u64::MAX);
    config.warmup = Duration::from_secs(11 * 600);
    let report = simulate(&workload(&calls), &costs(), &config).unwrap();
    assert_eq!(report.invocations, 19);
    assert_eq!(
        report.cold_starts, 0,
        "the histogram learned during the warm-up"
    );
    assert_eq!(report.functions_called, 1);
}

#[test]
fn at_low_load_every_function_is_homed_on_the_first_node() {
    let calls: Vec<_> = (0..40).map(|i| (i % 4, i as f64, 0.5)).collect();
    let mut config = Config::new("lru".parse().unwrap(), u64::MAX);
    config.nodes = 3;
    let report = simulate(&workload(&calls), &costs(), &config).unwrap();
    assert_eq!(report.cold_starts, 4, "one copy per function");
    assert_eq!(report.peak_resident_bytes, 4 * 2_000);
    assert_eq!(report.nodes_needed.summary.max, 1.0);
}

#[test]
fn when_the_load_exceeds_a_node_functions_spread_and_more_nodes_are_needed() {
    // 12 calls in flight at once for two minutes; a node is sized for 4.
    let calls: Vec<_> = (0..12).map(|i| (i, 0.0, 120.0)).collect();
    let mut config = Config::new("lru".parse().unwrap(), u64::MAX);
    config.nodes = 3;
    config.placement.node_capacity = 4.0;
    let report = simulate(&workload(&calls), &costs(), &config).unwrap();
    assert_eq!(report.nodes_needed.summary.max, 3.0);
    assert_eq!(report.nodes_needed.hourly_max, [3]);
    assert!(report.peak_node_resident_bytes < report.peak_resident_bytes);
    assert_eq!(report.peak_resident_bytes, 12 * 2_000);
}

#[test]
fn when_warm_functions_outgrow_a_nodes_memory_more_nodes_are_needed_at_low_load() {
    // 6 functions called once a minute for 10 minutes, one call in flight at most: one node's
    // calls, but a fixed 10-minute keep-alive wants 6 × 2,000 B warm in a 4,000 B budget.
    let calls: Vec<_> = (0..60).map(|i| (i % 6, f64::from(i) * 10.0, 1.0)).collect();
    let mut config = Config::new("fixed:10m".parse().unwrap(), 4_000);
    config.nodes = 3;
    let report = simulate(&workload(&calls), &costs(), &config).unwrap();
    assert_eq!(report.nodes_needed.for_calls.max, 1.0);
    assert_eq!(report.nodes_needed.for_memory.max, 3.0);
    assert_eq!(report.nodes_needed.summary.max, 3.0);
    // Routing heard of it: functions spread over the three, so fewer leave to make room than
    // on the one node their calls alone would need (rendezvous hashing balances names, not
    // bytes, so some still do).
    config.nodes = 1;
    let one = simulate(&workload(&calls), &costs(), &config).unwrap();
    assert_eq!(one.nodes_needed.for_memory.max, 3.0);
    assert!(report.cold_starts < one.cold_starts, "{report:?} {one:?}");
}

#[test]
fn zero_nodes_is_refused() {
    let mut config = Config::new(KeepAlivePolicy::Lru, 1);
    config.nodes = 0;
    let error = simulate(&workload(&[(0, 0.0, 1.0)]), &costs(), &config).unwrap_err();
    assert!(error.to_string().contains("--nodes is 0"));
}

#[test]
fn the_report_renders_as_json_and_a_table() {
    let report = run(&[(0, 0.0, 1.0), (0, 30.0, 1.0)], "fixed:10m", u64::MAX);
    let json: serde_json::Value = serde_json::to_value(&report).unwrap();
    for key in [
        "invocations",
        "cold_starts",
        "memory_seconds",
        "wasted_memory_seconds",
    ] {
        assert!(json.get(key).is_some(), "{key}");
    }
    assert_eq!(json["nodes_needed"]["max"], 1.0);
    assert_eq!(json["policy"], "fixed:10m");
    let table = report.to_table();
    assert!(
        table.contains("cold-start ratio per fn p50/p75/p99"),
        "{table}"
    );
    assert!(
        table.contains("costs                              test"),
        "{table}"
    );
}

#[test]
fn percentiles_are_nearest_rank() {
    let values = [1.0, 2.0, 3.0, 4.0];
    assert_eq!(percentile(&values, 0.5), 2.0);
    assert_eq!(percentile(&values, 0.75), 3.0);
    assert_eq!(percentile(&values, 0.99), 4.0);
    assert_eq!(percentile(&[], 0.5), 0.0);
}
