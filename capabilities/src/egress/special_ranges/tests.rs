//! The table checked against the registries' own numbers, written out here independently of it.

use super::*;

/// IPv4 blocks refused by default, from the IANA IPv4 Special-Purpose Address Registry:
/// (block, first address, last address).
const DENIED_V4: &[(&str, &str, &str)] = &[
    ("0.0.0.0/8", "0.0.0.0", "0.255.255.255"),
    ("10.0.0.0/8", "10.0.0.0", "10.255.255.255"),
    ("100.64.0.0/10", "100.64.0.0", "100.127.255.255"),
    ("127.0.0.0/8", "127.0.0.0", "127.255.255.255"),
    ("169.254.0.0/16", "169.254.0.0", "169.254.255.255"),
    ("172.16.0.0/12", "172.16.0.0", "172.31.255.255"),
    ("192.0.0.0/24", "192.0.0.0", "192.0.0.255"),
    ("192.0.2.0/24", "192.0.2.0", "192.0.2.255"),
    ("192.88.99.0/24", "192.88.99.0", "192.88.99.255"),
    ("192.168.0.0/16", "192.168.0.0", "192.168.255.255"),
    ("198.18.0.0/15", "198.18.0.0", "198.19.255.255"),
    ("198.51.100.0/24", "198.51.100.0", "198.51.100.255"),
    ("203.0.113.0/24", "203.0.113.0", "203.0.113.255"),
    ("224.0.0.0/4", "224.0.0.0", "239.255.255.255"),
    ("240.0.0.0/4", "240.0.0.0", "255.255.255.254"),
    ("255.255.255.255/32", "255.255.255.255", "255.255.255.255"),
];

/// IPv6 blocks refused by default, from the IANA IPv6 Special-Purpose Address Registry.
const DENIED_V6: &[(&str, &str, &str)] = &[
    ("::/128", "::", "::"),
    ("::1/128", "::1", "::1"),
    ("::/96", "::8.8.8.8", "::223.255.255.255"),
    (
        "64:ff9b:1::/48",
        "64:ff9b:1::",
        "64:ff9b:1:ffff:ffff:ffff:ffff:ffff",
    ),
    ("100::/64", "100::", "100::ffff:ffff:ffff:ffff"),
    (
        "100:0:0:1::/64",
        "100:0:0:1::",
        "100::1:ffff:ffff:ffff:ffff",
    ),
    (
        "2001::/23",
        "2001::",
        "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "2001:db8::/32",
        "2001:db8::",
        "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "3fff::/20",
        "3fff::",
        "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "5f00::/16",
        "5f00::",
        "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "fc00::/7",
        "fc00::",
        "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "fe80::/10",
        "fe80::",
        "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "fec0::/10",
        "fec0::",
        "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
    (
        "ff00::/8",
        "ff00::",
        "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    ),
];

/// Public addresses, many just outside a refused block.
const PUBLIC: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.0.1.0",
    "192.0.3.0",
    "192.31.196.1",
    "192.52.193.1",
    "192.88.98.255",
    "192.88.100.0",
    "192.167.255.255",
    "192.169.0.0",
    "192.175.48.1",
    "198.17.255.255",
    "198.20.0.0",
    "198.51.99.255",
    "198.51.101.0",
    "203.0.112.255",
    "203.0.114.0",
    "223.255.255.255",
    "2000::",
    "2001:200::",
    "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
    "2001:db9::",
    "2606:4700:4700::1111",
    "2a00:1450:4001:81c::200e",
    "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    "3fff:1000::",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",
];

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn refusal(text: &str) -> Denied {
    denied(ip(text)).unwrap_or_else(|| panic!("{text} should be refused"))
}

#[test]
fn the_first_and_last_address_of_every_special_block_are_refused_by_that_block() {
    for (block, first, last) in DENIED_V4.iter().chain(DENIED_V6) {
        for address in [first, last] {
            let d = refusal(address);
            assert_eq!(d.range.to_string(), *block, "{address}");
            assert_eq!(d.carrier, None, "{address}");
        }
    }
}

#[test]
fn public_addresses_are_allowed() {
    for address in PUBLIC {
        assert_eq!(denied(ip(address)), None, "{address}");
    }
}

#[test]
fn ipv6_forms_carrying_a_refused_ipv4_address_are_refused_by_its_block() {
    for (block, first, last) in DENIED_V4 {
        for address in [first, last] {
            let [a, b, c, d] = address.parse::<Ipv4Addr>().unwrap().octets();
            let sixtofour = format!(
                "2002:{:x}:{:x}::1",
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d])
            );
            let forms = [
                (format!("::ffff:{address}"), Carrier::Mapped),
                (format!("64:ff9b::{address}"), Carrier::Nat64),
                (sixtofour, Carrier::SixToFour),
            ];
            for (form, carrier) in forms {
                let denial = refusal(&form);
                assert_eq!(denial.range.to_string(), *block, "{form}");
                assert_eq!(denial.carrier, Some(carrier), "{form}");
            }
        }
    }
    let compatible = refusal("::127.0.0.1");
    assert_eq!(compatible.range.to_string(), "127.0.0.0/8");
    assert_eq!(compatible.carrier, Some(Carrier::Compatible));
}

#[test]
fn addresses_outside_global_unicast_are_refused_even_when_no_block_names_them() {
    for address in ["4000::1", "8000::", "e000::1", "1::", "::ffff:0:1.2.3.4"] {
        let d = refusal(address);
        assert_eq!(d.range.to_string(), "2000::/3", "{address}");
    }
}

#[test]
fn a_refusal_names_the_block_its_purpose_its_source_and_the_carrier() {
    assert_eq!(
        refusal("169.254.169.254").to_string(),
        "169.254.0.0/16 (link-local (incl. cloud metadata 169.254.169.254), RFC 3927)"
    );
    assert_eq!(
        refusal("64:ff9b::10.0.0.1").to_string(),
        "10.0.0.0/8 (private, RFC 1918) via NAT64"
    );
    assert_eq!(
        refusal("::ffff:127.0.0.1").to_string(),
        "127.0.0.0/8 (loopback, RFC 1122) in IPv4-mapped form"
    );
}
