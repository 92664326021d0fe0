use super::*;

fn parse(text: &str) -> KeepAlivePolicy {
    text.parse().unwrap()
}

fn worth(bytes: u64, seconds: u64) -> ColdStartWorth {
    ColdStartWorth::new(bytes, Duration::from_secs(seconds)).unwrap()
}

#[test]
fn every_form_parses_and_displays_back() {
    let m = |minutes: u64| Some(Duration::from_secs(minutes * 60));
    let forms = [
        ("fixed", KeepAlivePolicy::Fixed(None)),
        ("fixed:10m", KeepAlivePolicy::Fixed(m(10))),
        ("fixed:1h 30m", KeepAlivePolicy::Fixed(m(90))),
        (
            "adaptive",
            KeepAlivePolicy::Adaptive(None, ColdStartWorth::DEFAULT),
        ),
        (
            "adaptive:4h",
            KeepAlivePolicy::Adaptive(m(240), ColdStartWorth::DEFAULT),
        ),
        (
            "adaptive@16MiB*5m",
            KeepAlivePolicy::Adaptive(None, worth(16 << 20, 300)),
        ),
        (
            "adaptive:4h@1GiB*1h",
            KeepAlivePolicy::Adaptive(m(240), worth(1 << 30, 3600)),
        ),
        ("hybrid", KeepAlivePolicy::Hybrid(None)),
        ("hybrid:4h", KeepAlivePolicy::Hybrid(m(240))),
        ("histogram", KeepAlivePolicy::Histogram(None)),
        ("histogram:4h", KeepAlivePolicy::Histogram(m(240))),
        ("greedy-dual", KeepAlivePolicy::GreedyDual(None)),
        ("greedy-dual:20m", KeepAlivePolicy::GreedyDual(m(20))),
        ("lru", KeepAlivePolicy::Lru),
        ("none", KeepAlivePolicy::None),
    ];
    for (text, policy) in forms {
        assert_eq!(parse(text), policy, "{text}");
        assert_eq!(policy.to_string(), text);
        assert_eq!(parse(&policy.to_string()), policy);
    }
    assert_eq!(KeepAlivePolicy::default(), KeepAlivePolicy::Fixed(None));
}

#[test]
fn round2_design_names_are_aliases() {
    assert_eq!(parse("gd-hist"), KeepAlivePolicy::Hybrid(None));
    assert_eq!(parse("adaptive@64MiB x 10m"), parse("adaptive"));
    assert_eq!(parse("hist"), KeepAlivePolicy::Histogram(None));
    assert_eq!(parse("gd"), KeepAlivePolicy::GreedyDual(None));
    assert_eq!(parse(" fixed : 90s "), parse("fixed:90s"));
}

#[test]
fn bad_names_say_what_is_wrong_and_list_the_accepted_forms() {
    for (text, says) in [
        ("tinylfu", "unknown policy `tinylfu`"),
        ("", "the name is empty"),
        ("fixed:soon", "`soon` is not a duration"),
        ("fixed:", "`` is not a duration"),
        ("lru:5m", "`lru` takes no duration"),
        ("none:1s", "`none` takes no duration"),
        ("fixed@64MiB*10m", "only `adaptive` prices cold starts"),
        ("adaptive@64MiB", "write it as BYTES*DURATION"),
        ("adaptive@lots*10m", "`lots` is not a size"),
        ("adaptive@64MiB*soon", "`soon` is not a duration"),
        ("adaptive@0MiB*10m", "must be above zero"),
    ] {
        let error = text.parse::<KeepAlivePolicy>().unwrap_err();
        let message = error.to_string();
        assert!(message.contains(says), "{text}: {message}");
        assert!(message.contains("`fixed:DURATION`"), "{message}");
        assert!(message.contains("`adaptive`"), "{message}");
        assert!(message.contains("`none`"), "{message}");
    }
}

#[test]
fn each_policy_sets_its_windows_and_eviction_rule() {
    let pattern = Pattern::default();
    let fallback = Duration::from_secs(300);
    let keep = |p: &str| parse(p).windows(&pattern, fallback, 64 << 20);
    assert_eq!(keep("fixed"), Windows::keep(fallback));
    assert_eq!(keep("fixed:10m"), Windows::keep(Duration::from_secs(600)));
    // Unknown pattern: the break-even time, at least the fallback.
    assert_eq!(keep("adaptive"), Windows::keep(Duration::from_secs(600)));
    assert_eq!(
        keep("adaptive@64MiB*1m"),
        Windows::keep(fallback),
        "the fallback is a floor"
    );
    assert_eq!(
        keep("adaptive:4h"),
        Windows::keep(Duration::from_secs(14_400))
    );
    assert_eq!(keep("hybrid"), Windows::keep(fallback), "unknown pattern");
    assert_eq!(keep("histogram"), Windows::keep(fallback));
    assert_eq!(keep("greedy-dual"), Windows::keep(fallback));
    assert_eq!(keep("lru"), Windows::FOREVER);
    assert_eq!(keep("none"), Windows::keep(Duration::ZERO));

    let rule = |p: &str| parse(p).eviction();
    let gd = |layered| EvictionRule {
        order: Order::GreedyDual,
        layered,
    };
    let lru = EvictionRule {
        order: Order::Lru,
        layered: false,
    };
    assert_eq!(rule("adaptive"), gd(true));
    assert_eq!(rule("hybrid"), gd(true));
    assert_eq!(rule("greedy-dual"), gd(false));
    for p in ["fixed", "fixed:10m", "histogram", "lru", "none"] {
        assert_eq!(rule(p), lru, "{p}");
    }
}

#[test]
fn only_the_histogram_policies_may_prewarm() {
    for (name, prewarms) in [
        ("adaptive", true),
        ("adaptive:4h", true),
        ("hybrid", true),
        ("histogram", true),
        ("fixed", false),
        ("fixed:10m", false),
        ("greedy-dual", false),
        ("lru", false),
        ("none", false),
    ] {
        let policy: KeepAlivePolicy = name.parse().unwrap();
        assert_eq!(policy.may_prewarm(), prewarms, "{name}");
    }
}
