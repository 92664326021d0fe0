use super::*;

fn range(text: &str) -> IpRange {
    text.parse().unwrap_or_else(|e| panic!("{e}"))
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn ranges_hold_their_first_and_last_address_and_nothing_beside() {
    let r = range("10.0.0.0/8");
    assert!(r.contains(ip("10.0.0.0")) && r.contains(ip("10.255.255.255")));
    assert!(!r.contains(ip("9.255.255.255")) && !r.contains(ip("11.0.0.0")));
    let r = range("fd00::/8");
    assert!(r.contains(ip("fd00::")) && r.contains(ip("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")));
    assert!(!r.contains(ip("fc00::1")) && !r.contains(ip("fe00::")));
    let everything = range("0.0.0.0/0");
    assert!(everything.contains(ip("255.255.255.255")));
    assert!(
        !everything.contains(ip("::1")),
        "an IPv4 range holds no IPv6 address"
    );
    assert!(range("::/0").contains(ip("2001:db8::1")));
}

#[test]
fn a_bare_address_is_a_range_of_one_and_prints_without_prefix() {
    let r = range("127.0.0.1");
    assert_eq!(r.prefix(), 32);
    assert!(r.contains(ip("127.0.0.1")) && !r.contains(ip("127.0.0.2")));
    assert_eq!(r.to_string(), "127.0.0.1");
    assert_eq!(range("127.0.0.1/32"), r);
    assert_eq!(range("::1").to_string(), "::1");
    assert_eq!(range("10.0.0.0/8").to_string(), "10.0.0.0/8");
}

#[test]
fn ipv4_mapped_addresses_count_as_the_ipv4_address_they_carry() {
    assert!(range("127.0.0.0/8").contains(ip("::ffff:127.0.0.1")));
}

#[test]
fn bad_ranges_name_the_entry_and_the_fix() {
    for (text, hint) in [
        ("10.0.0.1/8", "write `10.0.0.0/8`"),
        ("10.0.0.0/33", "0 to 32"),
        ("fd00::/129", "0 to 128"),
        ("10.0.0/8", "not an IP address"),
        ("example.com", "not an IP address"),
        ("10.0.0.0/", "prefix"),
    ] {
        let e = text.parse::<IpRange>().unwrap_err();
        let message = e.to_string();
        assert!(message.contains(text), "{message}");
        assert!(message.contains(hint), "{text}: {message}");
        assert_eq!(e.code(), "invalid_config");
    }
}

#[test]
fn ranges_round_trip_through_serde() {
    let r: Vec<IpRange> = serde_json::from_str(r#"["10.0.0.0/8","::1"]"#).unwrap();
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"["10.0.0.0/8","::1"]"#
    );
    assert!(serde_json::from_str::<IpRange>(r#""10.0.0.1/8""#).is_err());
}
