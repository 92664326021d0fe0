use super::*;

fn parsed(input: &str) -> Duration {
    input
        .parse::<HumanDuration>()
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        .get()
}

fn refused(input: &str) -> String {
    match input.parse::<HumanDuration>() {
        Err(e @ Error::InvalidDuration { .. }) => e.to_string(),
        other => panic!("{input:?} should be refused, got {other:?}"),
    }
}

#[test]
fn humantime_syntax_parses() {
    assert_eq!(parsed("5m"), Duration::from_secs(300));
    assert_eq!(parsed("300ms"), Duration::from_millis(300));
    assert_eq!(parsed("90s"), Duration::from_secs(90));
    assert_eq!(parsed("1h 30m"), Duration::from_secs(5400));
    assert_eq!(parsed("90d"), Duration::from_secs(90 * 86_400));
    assert_eq!(parsed(" 10ms "), Duration::from_millis(10));
    assert_eq!(parsed("0s"), Duration::ZERO);
}

#[test]
fn malformed_durations_are_refused_with_the_rule() {
    for input in ["", "  ", "30", "5 parsecs", "-5s", "fast", "5m!", "1h 30"] {
        let message = refused(input);
        assert!(
            message.contains("e.g. `300ms`, `30s`, `5m` or `1h 30m`"),
            "{input:?}: {message}"
        );
    }
    assert!(refused("30").contains("time unit needed"));
}

#[test]
fn display_uses_whole_units_and_parses_back() {
    for (duration, shown) in [
        (Duration::ZERO, "0s"),
        (Duration::from_millis(10), "10ms"),
        (Duration::from_secs(30), "30s"),
        (Duration::from_secs(5400), "1h 30m"),
        (Duration::from_secs(90 * 86_400), "90d"),
        (Duration::new(61, 5), "1m 1s 5ns"),
        (Duration::MAX, "213503982334601d 7h 15s 999ms 999us 999ns"),
    ] {
        let duration = HumanDuration::from_duration(duration);
        assert_eq!(duration.to_string(), shown);
        assert_eq!(shown.parse::<HumanDuration>().unwrap(), duration);
    }
}

#[test]
fn serde_uses_the_string_form() {
    #[derive(Debug, Deserialize, Serialize)]
    struct Doc {
        timeout: HumanDuration,
    }
    let doc: Doc = toml::from_str("timeout = \"1h 30m\"").unwrap();
    assert_eq!(doc.timeout.get(), Duration::from_secs(5400));
    assert_eq!(toml::to_string(&doc).unwrap(), "timeout = \"1h 30m\"\n");
    let err = toml::from_str::<Doc>("timeout = 30").unwrap_err();
    assert!(err.to_string().contains("expected a string"), "{err}");
}
