use super::*;
use crate::stats::Outcome;

/// `n` successful requests of `latency` each plus one 503, over `secs` seconds.
fn stats(n: u64, latency: Duration, secs: u64) -> Stats {
    let mut stats = Stats::new().unwrap();
    for _ in 0..n {
        stats.record(0, Outcome::Status(200), latency);
    }
    stats.record(0, Outcome::Status(503), latency);
    stats.finish_run(Duration::from_secs(secs));
    stats
}

fn target(role: &str, stats: &Stats) -> TargetReport {
    TargetReport {
        role: role.into(),
        url: format!("http://{role}/"),
        sections: vec![("requests".into(), Summary::of(stats))],
        facts: vec![("top_function_hits".into(), 42.0)],
    }
}

fn compared() -> Report {
    let a = stats(2000, Duration::from_millis(2), 1);
    let b = stats(1000, Duration::from_millis(4), 1);
    Report::new(
        "warm",
        "closed loop".into(),
        vec![target("target", &a), target("compare", &b)],
    )
}

#[test]
fn ratios_divide_target_by_compare() {
    let report = compared();
    let (name, ratio) = &report.ratios[0];
    assert_eq!(name, "requests");
    assert_eq!(ratio.throughput, Some(2.0));
    let p50 = ratio.p50.unwrap();
    assert!((p50 - 0.5).abs() < 0.001, "{p50}");
}

#[test]
fn a_ratio_with_nothing_to_divide_by_is_null() {
    let ok = Summary::of(&stats(10, Duration::from_millis(1), 1));
    let mut failed = Stats::new().unwrap();
    failed.record(0, Outcome::Timeout, Duration::from_secs(1));
    let failed = Summary::of(&failed);
    assert_eq!(
        Ratio::of(&ok, &failed),
        Ratio {
            throughput: None,
            p50: None,
            p99: None
        }
    );
    let r = Ratio::of(&failed, &ok);
    assert_eq!(r.throughput, Some(0.0), "no throughput is a ratio of 0");
    assert_eq!(r.p50, None, "no latency to compare");
}

#[test]
fn json_has_both_targets_their_sections_and_the_ratios_as_numbers() {
    let json: serde_json::Value = serde_json::from_str(&compared().to_json().unwrap()).unwrap();
    assert_eq!(json["scenario"], "warm");
    let targets = json["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["role"], "target");
    assert_eq!(targets[1]["url"], "http://compare/");
    let requests = &targets[0]["sections"]["requests"];
    assert_eq!(requests["requests"], 2001);
    assert_eq!(requests["ok"], 2000);
    assert_eq!(requests["errors"], 1);
    assert_eq!(requests["errors_by_status"]["503"], 1);
    assert_eq!(requests["dropped"], 0);
    assert_eq!(requests["throughput_rps"], 2000.0);
    for key in ["p50", "p90", "p99", "p99.9", "max", "mean"] {
        assert!(requests["latency_ms"][key].is_f64(), "{key} is a number");
    }
    assert!(
        requests.get("send_lag_ms").is_none(),
        "closed loop has no send lag"
    );
    assert_eq!(targets[0]["facts"]["top_function_hits"], 42.0);
    assert_eq!(json["ratios"]["requests"]["throughput"], 2.0);
    assert!(json["ratios"]["requests"]["p99"].is_f64());
}

#[test]
fn json_of_a_single_target_has_no_ratios_and_null_latency_when_nothing_succeeded() {
    let mut failed = Stats::new().unwrap();
    failed.record(0, Outcome::Connect, Duration::ZERO);
    let report = Report::new("burst", "spike".into(), vec![target("target", &failed)]);
    let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
    assert!(json.get("ratios").is_none());
    let section = &json["targets"][0]["sections"]["requests"];
    assert!(section["latency_ms"].is_null());
    assert_eq!(section["errors_by_status"]["connect"], 1);
}

#[test]
fn sections_keep_their_order_in_json() {
    let s = Summary::of(&stats(1, Duration::from_millis(1), 1));
    let mut t = target("target", &Stats::new().unwrap());
    t.sections = vec![("warm".into(), s.clone()), ("cold".into(), s)];
    let json = Report::new("cold", String::new(), vec![t])
        .to_json()
        .unwrap();
    assert!(json.find("\"warm\": {").unwrap() < json.find("\"cold\": {").unwrap());
}

#[test]
fn the_table_has_a_row_per_target_and_the_ratio_line() {
    let table = compared().to_table();
    let row = table
        .lines()
        .find(|l| l.starts_with("target") && l.contains("requests"))
        .unwrap();
    assert!(row.contains("2001") && row.contains("2000.0"), "{row}");
    assert!(row.contains("2.000"), "p50 in ms with 3 decimals: {row}");
    assert!(table.lines().any(|l| l.starts_with("compare ")), "{table}");
    assert!(table.contains("503 x1"), "{table}");
    assert!(
        table.contains("ratio target/compare requests: throughput 2.00x, p50 0.50x"),
        "{table}"
    );
}
