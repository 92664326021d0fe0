use super::*;

fn matches(pattern: &str, subject: &str) -> bool {
    validate_subject(subject).unwrap();
    Pattern::parse(pattern).unwrap().matches(subject)
}

#[test]
fn literal_patterns_match_only_the_same_subject() {
    assert!(matches("orders", "orders"));
    assert!(matches("orders.eu.created", "orders.eu.created"));
    assert!(!matches("orders.eu", "orders.us"));
    assert!(!matches("orders.eu", "orders"));
    assert!(!matches("orders", "orders.eu"));
    assert!(!matches("orders.eu", "orders.eu.created"));
}

#[test]
fn star_matches_exactly_one_token_anywhere() {
    assert!(matches("*", "orders"));
    assert!(!matches("*", "orders.eu"));
    assert!(matches("orders.*", "orders.eu"));
    assert!(!matches("orders.*", "orders"));
    assert!(!matches("orders.*", "orders.eu.created"));
    assert!(matches("orders.*.created", "orders.eu.created"));
    assert!(!matches("orders.*.created", "orders.eu.deleted"));
    assert!(matches("*.*.created", "orders.eu.created"));
    assert!(matches("*.eu.*", "orders.eu.created"));
}

#[test]
fn greater_than_matches_one_or_more_trailing_tokens() {
    assert!(matches(">", "orders"));
    assert!(matches(">", "orders.eu.created"));
    assert!(matches("orders.>", "orders.eu"));
    assert!(matches("orders.>", "orders.eu.created.v1"));
    assert!(!matches("orders.>", "orders"));
    assert!(!matches("orders.>", "payments.eu"));
    assert!(matches("orders.*.>", "orders.eu.created"));
    assert!(!matches("orders.*.>", "orders.eu"));
}

#[test]
fn wildcard_characters_inside_a_token_are_literal() {
    assert!(matches("a*b.c", "a*b.c"));
    assert!(!matches("a*b.c", "axb.c"));
    assert!(matches("x.>y", "x.>y"));
    assert!(!matches("x.>y", "x.z"));
}

#[test]
fn publish_subjects_refuse_wildcards_and_malformed_tokens() {
    for bad in [
        "", ".", "a.", ".a", "a..b", "a b", "a\tb", "a.*", "*", ">", "a.>", "a.*.b",
    ] {
        let err = validate_subject(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_subject", "{bad:?}");
    }
    for good in ["a", "a.b.c", "_INBOX.x1", "a*b", "a-b_c.9", "ünï.cödé"] {
        validate_subject(good).unwrap();
    }
}

#[test]
fn patterns_refuse_a_greater_than_that_is_not_last_and_malformed_tokens() {
    for bad in ["", "a..b", "a.", ".a", "a >", ">.a", "a.>.b", "a.>.>"] {
        let err = Pattern::parse(bad).unwrap_err();
        assert_eq!(err.code(), "invalid_pattern", "{bad:?}");
    }
    for good in ["a", "*", ">", "a.*", "*.b", "a.*.>", "*.*.*"] {
        assert_eq!(Pattern::parse(good).unwrap().as_str(), good);
    }
}

#[test]
fn the_hosts_subjects_are_reserved_and_lookalikes_are_not() {
    for reserved in ["wasmgate.dead-letter.x", "wasmgate.anything", "_INBOX.x1.y"] {
        assert!(is_reserved(reserved), "{reserved}");
    }
    for free in [
        "wasmgate",
        "wasmgate-orders.x",
        "orders._INBOX.x",
        "_inbox.x",
        "INBOX.x",
    ] {
        assert!(!is_reserved(free), "{free}");
    }
}
