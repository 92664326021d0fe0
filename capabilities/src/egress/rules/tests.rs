use super::*;

fn patterns(list: &[&str]) -> Vec<HostPattern> {
    list.iter().map(|p| p.parse().unwrap()).collect()
}

fn ranges(list: &[&str]) -> Vec<IpRange> {
    list.iter().map(|r| r.parse().unwrap()).collect()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

#[test]
fn without_a_list_any_host_passes_and_only_public_addresses_connect() {
    let rules = Rules::new(None, &[]);
    assert_eq!(rules.check_host("anything.example", 80), Ok(()));
    assert_eq!(rules.check_host("127.0.0.1", 80), Ok(()));
    assert_eq!(rules.check_address("8.8.8.8".parse().unwrap()), Ok(()));
    let refused = rules
        .check_address("127.0.0.1".parse().unwrap())
        .unwrap_err();
    assert_eq!(refused.reason(), "address_denied");
    assert!(rules.check_address("::1".parse().unwrap()).is_err());
    assert!(
        rules
            .check_address("169.254.169.254".parse().unwrap())
            .is_err()
    );
}

#[test]
fn opened_ranges_let_their_special_addresses_connect_and_no_others() {
    let rules = Rules::new(None, &ranges(&["127.0.0.0/8", "10.1.0.0/16"]));
    assert_eq!(rules.check_address("127.0.0.1".parse().unwrap()), Ok(()));
    assert_eq!(
        rules.check_address("::ffff:127.0.0.1".parse().unwrap()),
        Ok(())
    );
    assert_eq!(rules.check_address("10.1.2.3".parse().unwrap()), Ok(()));
    assert!(rules.check_address("10.2.0.1".parse().unwrap()).is_err());
    assert!(rules.check_address("::1".parse().unwrap()).is_err());
    assert!(
        rules
            .check_address("169.254.169.254".parse().unwrap())
            .is_err()
    );
}

#[test]
fn with_a_list_only_listed_hosts_pass_and_addresses_are_still_checked() {
    let rules = Rules::new(
        Some(&patterns(&[
            "api.example.com",
            "*.svc.example.com:8443",
            "localhost",
        ])),
        &[],
    );
    assert_eq!(rules.check_host("api.example.com", 443), Ok(()));
    assert_eq!(rules.check_host("a.svc.example.com", 8443), Ok(()));
    assert_eq!(
        rules.check_host("a.svc.example.com", 443),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(
        rules.check_host("svc.example.com", 8443),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(
        rules.check_host("other.example", 443),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(
        rules.check_host("127.0.0.1", 80),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(rules.check_host("localhost", 80), Ok(()), "listed");
    assert!(
        rules.check_address("127.0.0.1".parse().unwrap()).is_err(),
        "a listed name resolving to loopback still cannot connect"
    );
}

#[test]
fn ip_literal_hosts_match_address_patterns_with_or_without_brackets() {
    let rules = Rules::new(Some(&patterns(&["10.0.0.0/8:5432", "[fd00::/8]"])), &[]);
    assert_eq!(rules.check_host("10.9.9.9", 5432), Ok(()));
    assert_eq!(
        rules.check_host("10.9.9.9", 80),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(rules.check_host("[fd00::1]", 80), Ok(()));
    assert_eq!(rules.check_host("fd00::1", 80), Ok(()));
}

#[test]
fn sockets_match_the_list_by_address_and_port_then_the_address_table() {
    let listed = Rules::new(
        Some(&patterns(&["203.0.113.0/24:25", "127.0.0.1"])),
        &ranges(&["127.0.0.0/8"]),
    );
    assert_eq!(listed.check_socket(addr("127.0.0.1:9")), Ok(()));
    assert_eq!(
        listed.check_socket(addr("127.0.0.2:9")),
        Err(Refusal::HostNotGranted)
    );
    assert_eq!(
        listed.check_socket(addr("8.8.8.8:53")),
        Err(Refusal::HostNotGranted)
    );
    let documentation = listed.check_socket(addr("203.0.113.5:25")).unwrap_err();
    assert_eq!(
        documentation.reason(),
        "address_denied",
        "listed but special and not opened"
    );
    let unlisted = Rules::new(None, &[]);
    assert_eq!(unlisted.check_socket(addr("8.8.8.8:53")), Ok(()));
    assert!(unlisted.check_socket(addr("[::1]:80")).is_err());
}
