use super::*;

fn pattern(text: &str) -> HostPattern {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn an_exact_host_matches_itself_in_any_case_and_nothing_else() {
    let p = pattern("api.example.com");
    assert!(p.matches_name("api.example.com", 443));
    assert!(p.matches_name("API.Example.COM", 80));
    assert!(
        p.matches_name("api.example.com.", 80),
        "a trailing dot is the same name"
    );
    assert!(!p.matches_name("x.api.example.com", 443));
    assert!(!p.matches_name("example.com", 443));
    assert!(!p.matches_name("api.example.com.evil.net", 443));
    assert!(!p.matches_address("93.184.216.34".parse().unwrap(), 443));
}

#[test]
fn a_wildcard_matches_hosts_below_the_domain_but_not_the_domain_or_lookalikes() {
    let p = pattern("*.svc.example.com");
    assert!(p.matches_name("a.svc.example.com", 443));
    assert!(p.matches_name("a.b.SVC.example.com", 443));
    assert!(
        !p.matches_name("svc.example.com", 443),
        "the bare suffix is not below itself"
    );
    assert!(!p.matches_name("evilsvc.example.com", 443));
    assert!(!p.matches_name(".svc.example.com", 443));
    assert!(!p.matches_name("a.svc.example.com.evil", 443));
}

#[test]
fn a_port_restricts_the_pattern_to_it_and_none_allows_any() {
    let p = pattern("*.svc.example.com:8443");
    assert!(p.matches_name("a.svc.example.com", 8443));
    assert!(!p.matches_name("a.svc.example.com", 443));
    assert_eq!(p.port(), Some(8443));
    let any = pattern("api.example.com");
    assert!(any.matches_name("api.example.com", 1) && any.matches_name("api.example.com", 65535));
}

#[test]
fn address_patterns_match_addresses_in_their_range_only() {
    let p = pattern("10.1.0.0/16:5432");
    assert!(p.is_address());
    assert!(p.matches_address("10.1.255.3".parse().unwrap(), 5432));
    assert!(!p.matches_address("10.1.255.3".parse().unwrap(), 5433));
    assert!(!p.matches_address("10.2.0.1".parse().unwrap(), 5432));
    assert!(
        !p.matches_name("10.1.0.1", 5432),
        "names never match an address pattern"
    );
    let v6 = pattern("[fd00::/8]:80");
    assert!(v6.matches_address("fd12::1".parse().unwrap(), 80));
    let bare = pattern("2001:db8::1");
    assert!(bare.matches_address("2001:db8::1".parse().unwrap(), 9));
    assert!(!pattern("api.example.com").is_address());
}

#[test]
fn patterns_print_as_they_parse_and_host_names_are_lowercased() {
    for text in [
        "api.example.com",
        "*.svc.example.com:8443",
        "10.0.0.0/8",
        "10.0.0.0/8:5432",
        "203.0.113.7:80",
        "[fd00::/8]:5432",
        "fd00::/8",
        "[::1]:80",
    ] {
        assert_eq!(pattern(text).to_string(), text);
    }
    assert_eq!(pattern("API.Example.com.").to_string(), "api.example.com");
    let json = serde_json::to_string(&pattern("*.a.example:1")).unwrap();
    assert_eq!(json, r#""*.a.example:1""#);
    assert_eq!(
        serde_json::from_str::<HostPattern>(&json).unwrap(),
        pattern("*.a.example:1")
    );
}

#[test]
fn bad_patterns_name_the_entry_the_problem_and_how_to_write_one() {
    for (text, problem) in [
        ("", "it is empty"),
        ("api.*.com", "`*` may only stand at the start"),
        ("*api.example.com", "`*` may only stand at the start"),
        ("*", "`*` may only stand at the start"),
        ("*.", "the host name is empty"),
        ("api.example.com:0", "port `0`"),
        ("api.example.com:https", "port `https`"),
        ("api.example.com:70000", "port `70000`"),
        ("a..example.com", "empty label"),
        ("-a.example.com", "starts or ends with `-`"),
        ("exa mple.com", "' ' is not allowed"),
        ("bücher.example", "`xn--` form"),
        ("1.2.3", "neither a host name"),
        ("10.0.0.1/8", "not an IP address or CIDR range"),
        ("[::1", "no closing `]`"),
        ("[::1]x", "is not `:PORT`"),
        ("example.com/path", "not an IP address or CIDR range"),
    ] {
        let e = text.parse::<HostPattern>().unwrap_err();
        assert_eq!(e.code(), "invalid_capability");
        let message = e.to_string();
        assert!(message.contains(&format!("`{text}`")), "{message}");
        assert!(message.contains(problem), "{text}: {message}");
        assert!(message.contains("`*.example.com`"), "{message}");
    }
}
