use super::*;

const DEFAULT: &str = include_str!("../../../loadtest/costs/default.json");

#[test]
fn the_shipped_default_is_the_measured_costs_of_three_kinds() {
    let costs = Costs::from_json(DEFAULT).unwrap();
    assert!(costs.note().contains("measured"), "{}", costs.note());
    let names: Vec<&str> = costs.kinds().iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, ["rust", "js", "python"]);
    let weights: Vec<u32> = costs.kinds().iter().map(|k| k.weight).collect();
    assert_eq!(weights, [70, 15, 15]);
    for kind in costs.kinds() {
        assert!(kind.footprint.code.bytes > 0, "{}", kind.name);
        assert!(
            kind.footprint.code.restore > Duration::ZERO,
            "{}",
            kind.name
        );
        assert_eq!(kind.footprint.instances.bytes, 0, "no idle instances");
        assert!(
            kind.cold_start >= kind.footprint.cold_cost(),
            "{}",
            kind.name
        );
    }
    // The JavaScript and Python runtimes' code is two orders of magnitude above a Rust guest's.
    assert!(costs.kinds()[1].footprint.code.bytes > 50 * costs.kinds()[0].footprint.code.bytes);
}

#[test]
fn kinds_follow_the_weights_and_are_stable_per_name() {
    let costs = Costs::from_json(DEFAULT).unwrap();
    let mut counts = [0usize; 3];
    for i in 0..20_000 {
        counts[costs.kind_index(&format!("app{i}/func{i}"))] += 1;
    }
    let shares = counts.map(|c| c as f64 / 20_000.0);
    assert!((shares[0] - 0.70).abs() < 0.02, "{shares:?}");
    assert!((shares[1] - 0.15).abs() < 0.02, "{shares:?}");
    assert!((shares[2] - 0.15).abs() < 0.02, "{shares:?}");
    assert_eq!(costs.kind_index("hello"), costs.kind_index("hello"));
    // A fixed hash: the same name has the same kind on every machine and release.
    assert_eq!(xxh3_64(b"hello") % 100, 89);
    assert_eq!(costs.kind_of("hello").name, "python", "85 ≤ 89 < 100");
}

#[test]
fn explicit_restore_times_are_used() {
    let text = r#"{"kinds": [{"name": "k", "weight": 1, "code_bytes": 10, "linked_bytes": 2,
        "instance_bytes": 3, "cold_start_ms": 1.0, "warm_ms": 0.1,
        "restore_ms": {"code": 0.5, "linked": 0.2, "instances": 0.2}}]}"#;
    let costs = Costs::from_json(text).unwrap();
    let kind = costs.kind_of("anything");
    assert_eq!(kind.footprint.linked.restore, Duration::from_micros(200));
    assert_eq!(kind.footprint.bytes(), 15);
    assert_eq!(costs.note(), "");
}

#[test]
fn bad_costs_say_what_is_wrong() {
    let kind = |extra: &str| {
        format!(
            r#"{{"kinds": [{{"name": "k", "weight": 1, "code_bytes": 1, "linked_bytes": 1,
            "instance_bytes": 1, "cold_start_ms": 1.0, "warm_ms": 0.1{extra}}}]}}"#
        )
    };
    for (text, says) in [
        ("not json".to_owned(), "expected {\"note\""),
        (r#"{"kinds": []}"#.to_owned(), "`kinds` is empty"),
        (kind(r#", "colour": 1"#), "unknown field `colour`"),
        (
            kind("").replace(r#""warm_ms": 0.1"#, r#""warm_ms": 2"#),
            "below warm_ms",
        ),
        (
            kind("").replace(r#""warm_ms": 0.1"#, r#""warm_ms": -1"#),
            "`warm_ms` is -1",
        ),
        (
            kind("").replace(r#""weight": 1"#, r#""weight": 0"#),
            "every weight is 0",
        ),
        (
            kind("").replace(r#""cold_start_ms": 1.0, "#, ""),
            "missing field `cold_start_ms`",
        ),
    ] {
        let message = Costs::from_json(&text).unwrap_err().to_string();
        assert!(message.contains(says), "{text}: {message}");
    }
    let twice = r#"{"kinds": [
        {"name": "k", "weight": 1, "code_bytes": 1, "linked_bytes": 1, "instance_bytes": 1, "cold_start_ms": 1, "warm_ms": 0},
        {"name": "k", "weight": 1, "code_bytes": 1, "linked_bytes": 1, "instance_bytes": 1, "cold_start_ms": 1, "warm_ms": 0}]}"#;
    let message = Costs::from_json(twice).unwrap_err().to_string();
    assert!(message.contains("appears twice"), "{message}");
}
