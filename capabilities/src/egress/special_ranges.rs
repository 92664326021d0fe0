//! The address table: which destinations are not the public internet and so are refused unless
//! the operator opens them.
//!
//! Sources: the IANA IPv4 Special-Purpose Address Registry and IPv6 Special-Purpose Address
//! Registry (RFC 6890, updated by RFC 8190), read 2026; each entry names the RFC that defines it.
//! Every block those registries mark as not globally reachable is here, plus the ones reachable
//! only through a local translator. Three IPv4 blocks the registry marks globally reachable are
//! left out on purpose: 192.31.196.0/24 and 192.175.48.0/24 (AS112 DNS, RFC 7535 / RFC 7534) and
//! 192.52.193.0/24 (AMT, RFC 7450). IPv6 is checked the other way round as well: an address
//! outside 2000::/3, the only block IANA allocates for global unicast (IPv6 Address Space
//! registry, RFC 4291 §2.4), is refused even when no entry below names it.
//!
//! An IPv6 address carrying an IPv4 address is judged by the IPv4 address where a translator or
//! dual-stack socket would take it: IPv4-mapped `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2), NAT64
//! `64:ff9b::a.b.c.d` (RFC 6052 §2.1) and 6to4 `2002:AABB:CCDD::/48` (RFC 3056 §2). The
//! deprecated IPv4-compatible form `::a.b.c.d` (RFC 4291 §2.5.5.1) is refused outright.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One block of the table: where it is, what it is for and which document says so.
#[derive(Debug, PartialEq, Eq)]
pub struct SpecialRange {
    block: Block,
    /// What the block is for, e.g. `loopback`.
    pub name: &'static str,
    /// The document that defines it, e.g. `RFC 1122`.
    pub source: &'static str,
}

/// A CIDR block held as integers, so a check is a shift and a compare.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum Block {
    V4(u32, u8),
    V6(u128, u8),
}

const fn v4(
    [a, b, c, d]: [u8; 4],
    prefix: u8,
    name: &'static str,
    source: &'static str,
) -> SpecialRange {
    SpecialRange {
        block: Block::V4(Ipv4Addr::new(a, b, c, d).to_bits(), prefix),
        name,
        source,
    }
}

const fn v6(
    segments: [u16; 8],
    prefix: u8,
    name: &'static str,
    source: &'static str,
) -> SpecialRange {
    let [a, b, c, d, e, f, g, h] = segments;
    SpecialRange {
        block: Block::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h).to_bits(), prefix),
        name,
        source,
    }
}

/// IPv4 blocks refused by default; the first that holds an address names its refusal.
pub const IPV4: &[SpecialRange] = &[
    v4(
        [0, 0, 0, 0],
        8,
        "this network (incl. unspecified 0.0.0.0)",
        "RFC 791",
    ),
    v4([10, 0, 0, 0], 8, "private", "RFC 1918"),
    v4(
        [100, 64, 0, 0],
        10,
        "shared address space (CGNAT)",
        "RFC 6598",
    ),
    v4([127, 0, 0, 0], 8, "loopback", "RFC 1122"),
    v4(
        [169, 254, 0, 0],
        16,
        "link-local (incl. cloud metadata 169.254.169.254)",
        "RFC 3927",
    ),
    v4([172, 16, 0, 0], 12, "private", "RFC 1918"),
    v4([192, 0, 0, 0], 24, "IETF protocol assignments", "RFC 6890"),
    v4([192, 0, 2, 0], 24, "documentation (TEST-NET-1)", "RFC 5737"),
    v4(
        [192, 88, 99, 0],
        24,
        "6to4 relay anycast (deprecated)",
        "RFC 7526",
    ),
    v4([192, 168, 0, 0], 16, "private", "RFC 1918"),
    v4([198, 18, 0, 0], 15, "benchmarking", "RFC 2544"),
    v4(
        [198, 51, 100, 0],
        24,
        "documentation (TEST-NET-2)",
        "RFC 5737",
    ),
    v4(
        [203, 0, 113, 0],
        24,
        "documentation (TEST-NET-3)",
        "RFC 5737",
    ),
    v4([224, 0, 0, 0], 4, "multicast", "RFC 5771"),
    v4([255, 255, 255, 255], 32, "limited broadcast", "RFC 919"),
    v4([240, 0, 0, 0], 4, "reserved", "RFC 1112"),
];

/// IPv6 blocks refused by default; the first that holds an address names its refusal.
pub const IPV6: &[SpecialRange] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, "unspecified", "RFC 4291"),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback", "RFC 4291"),
    v6(
        [0, 0, 0, 0, 0, 0, 0, 0],
        96,
        "IPv4-compatible (deprecated)",
        "RFC 4291",
    ),
    v6(
        [0x64, 0xff9b, 1, 0, 0, 0, 0, 0],
        48,
        "local-use IPv4/IPv6 translation",
        "RFC 8215",
    ),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only", "RFC 6666"),
    v6([0x100, 0, 0, 1, 0, 0, 0, 0], 64, "dummy prefix", "RFC 9780"),
    v6(
        [0x2001, 0, 0, 0, 0, 0, 0, 0],
        23,
        "IETF protocol assignments (incl. Teredo)",
        "RFC 2928",
    ),
    v6(
        [0x2001, 0xdb8, 0, 0, 0, 0, 0, 0],
        32,
        "documentation",
        "RFC 3849",
    ),
    v6(
        [0x3fff, 0, 0, 0, 0, 0, 0, 0],
        20,
        "documentation",
        "RFC 9637",
    ),
    v6(
        [0x5f00, 0, 0, 0, 0, 0, 0, 0],
        16,
        "segment routing (SRv6) SIDs",
        "RFC 9602",
    ),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local", "RFC 4193"),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local", "RFC 4291"),
    v6(
        [0xfec0, 0, 0, 0, 0, 0, 0, 0],
        10,
        "site-local (deprecated)",
        "RFC 3879",
    ),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast", "RFC 4291"),
];

/// Everything outside 2000::/3 that no entry of [`IPV6`] names.
pub const OUTSIDE_GLOBAL_UNICAST: SpecialRange = v6(
    [0x2000, 0, 0, 0, 0, 0, 0, 0],
    3,
    "outside global unicast 2000::/3",
    "RFC 4291",
);

/// The IPv4-mapped block `::ffff:0:0/96`.
const MAPPED: Block = Block::V6(0xffff_0000_0000, 96);
/// The NAT64 well-known prefix `64:ff9b::/96`.
const NAT64: Block = Block::V6(0x0064_ff9b << 96, 96);
/// The 6to4 block `2002::/16`.
const SIX_TO_FOUR: Block = Block::V6(0x2002 << 112, 16);
/// The IPv4-compatible block `::/96`.
const COMPATIBLE: Block = Block::V6(0, 96);

/// How an IPv6 address carried the IPv4 address that was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    /// `::ffff:a.b.c.d`.
    Mapped,
    /// `::a.b.c.d` (deprecated).
    Compatible,
    /// `64:ff9b::a.b.c.d`.
    Nat64,
    /// `2002:AABB:CCDD::/48`.
    SixToFour,
}

/// Why an address is refused: the table entry holding it, and the IPv6 form it came in, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denied {
    /// The entry that holds the address (or the IPv4 address it carries).
    pub range: &'static SpecialRange,
    /// The IPv6 form that carried a refused IPv4 address.
    pub carrier: Option<Carrier>,
}

/// The entry refusing `ip`, or `None` for a public address.
pub fn denied(ip: IpAddr) -> Option<Denied> {
    match ip {
        IpAddr::V4(ip) => denied_v4(ip).map(|range| Denied {
            range,
            carrier: None,
        }),
        IpAddr::V6(ip) => denied_v6(ip),
    }
}

fn denied_v4(ip: Ipv4Addr) -> Option<&'static SpecialRange> {
    let bits = ip.to_bits();
    IPV4.iter().find(|r| r.block.holds_v4(bits))
}

fn denied_v6(ip: Ipv6Addr) -> Option<Denied> {
    let bits = ip.to_bits();
    let carried = |carrier| {
        move |range| Denied {
            range,
            carrier: Some(carrier),
        }
    };
    let low32 = Ipv4Addr::from_bits(bits as u32);
    if MAPPED.holds_v6(bits) {
        return denied_v4(low32).map(carried(Carrier::Mapped));
    }
    if NAT64.holds_v6(bits) {
        return denied_v4(low32).map(carried(Carrier::Nat64));
    }
    if SIX_TO_FOUR.holds_v6(bits) {
        let inner = Ipv4Addr::from_bits((bits >> 80) as u32);
        return denied_v4(inner).map(carried(Carrier::SixToFour));
    }
    // `::` and `::1` are IPv6's own unspecified and loopback addresses, not carriers.
    if COMPATIBLE.holds_v6(bits)
        && bits > 1
        && let Some(denial) = denied_v4(low32).map(carried(Carrier::Compatible))
    {
        return Some(denial);
    }
    if let Some(range) = IPV6.iter().find(|r| r.block.holds_v6(bits)) {
        return Some(Denied {
            range,
            carrier: None,
        });
    }
    (!OUTSIDE_GLOBAL_UNICAST.block.holds_v6(bits)).then_some(Denied {
        range: &OUTSIDE_GLOBAL_UNICAST,
        carrier: None,
    })
}

impl Block {
    fn holds_v4(self, ip: u32) -> bool {
        match self {
            Block::V4(net, prefix) => {
                (net ^ ip).checked_shr(32 - u32::from(prefix)).unwrap_or(0) == 0
            }
            Block::V6(..) => false,
        }
    }

    fn holds_v6(self, ip: u128) -> bool {
        match self {
            Block::V6(net, prefix) => {
                (net ^ ip).checked_shr(128 - u32::from(prefix)).unwrap_or(0) == 0
            }
            Block::V4(..) => false,
        }
    }
}

/// `127.0.0.0/8`.
impl fmt::Display for SpecialRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.block {
            Block::V4(net, prefix) => write!(f, "{}/{prefix}", Ipv4Addr::from_bits(net)),
            Block::V6(net, prefix) => write!(f, "{}/{prefix}", Ipv6Addr::from_bits(net)),
        }
    }
}

/// `127.0.0.0/8 (loopback, RFC 1122)`, with `via NAT64` and the like for a carried address.
impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.range;
        write!(f, "{r} ({}, {})", r.name, r.source)?;
        match self.carrier {
            None => Ok(()),
            Some(Carrier::Mapped) => f.write_str(" in IPv4-mapped form"),
            Some(Carrier::Compatible) => f.write_str(" in IPv4-compatible form"),
            Some(Carrier::Nat64) => f.write_str(" via NAT64"),
            Some(Carrier::SixToFour) => f.write_str(" via 6to4"),
        }
    }
}

#[cfg(test)]
mod tests;
