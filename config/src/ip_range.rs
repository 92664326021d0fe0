//! IP address ranges in CIDR notation (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`): what an operator
//! opens with `[egress] allow` and what a `sockets` grant may list.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// How to write a range; the end of every error message.
const RANGE_RULE: &str =
    "write an address and a prefix length such as `10.0.0.0/8` or `fd00::/8`, or one address";

/// A block of IP addresses: a network address and a prefix length (RFC 4632 §3.1 for IPv4,
/// RFC 4291 §2.3 for IPv6). A bare address is the block holding only it (`/32`, `/128`).
///
/// The address has no bits set past the prefix, so each block has exactly one spelling
/// (`10.0.0.1/8` is refused with the hint to write `10.0.0.0/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IpRange {
    addr: IpAddr,
    prefix: u8,
}

impl IpRange {
    /// The first address of the block.
    pub fn network(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `ip` lies in the block. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) counts as
    /// the IPv4 address it carries, because that is where a dual-stack socket connects.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => same_prefix(
                u128::from(net.to_bits()),
                u128::from(ip.to_bits()),
                self.prefix,
                32,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                same_prefix(net.to_bits(), ip.to_bits(), self.prefix, 128)
            }
            _ => false,
        }
    }
}

/// Whether `a` and `b`, numbers of `width` bits, agree in their first `prefix` bits.
fn same_prefix(a: u128, b: u128, prefix: u8, width: u32) -> bool {
    let host_bits = width.saturating_sub(u32::from(prefix));
    (a ^ b).checked_shr(host_bits).unwrap_or(0) == 0
}

impl TryFrom<String> for IpRange {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        parse(&text).map_err(|problem| Error::InvalidIpRange {
            reason: format!("{problem}; {RANGE_RULE}"),
            input: text,
        })
    }
}

fn parse(text: &str) -> std::result::Result<IpRange, String> {
    let (addr_text, prefix_text) = match text.split_once('/') {
        Some((addr, prefix)) => (addr, Some(prefix)),
        None => (text, None),
    };
    let addr: IpAddr = addr_text
        .parse()
        .map_err(|_| format!("`{}` is not an IP address", addr_text.escape_debug()))?;
    let width: u8 = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match prefix_text {
        None => width,
        Some(p) => p
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= width)
            .ok_or_else(|| {
                format!(
                    "prefix `{}` is not a number from 0 to {width}",
                    p.escape_debug()
                )
            })?,
    };
    let range = IpRange { addr, prefix };
    let network = range.masked();
    if network != addr {
        return Err(format!(
            "{addr} has bits set past the /{prefix} prefix: write `{network}/{prefix}`"
        ));
    }
    Ok(range)
}

impl IpRange {
    /// The address with every bit past the prefix cleared.
    fn masked(&self) -> IpAddr {
        let keep = |width: u32| -> u128 {
            let host_bits = width - u32::from(self.prefix);
            (u128::MAX >> (128 - width))
                .checked_shr(host_bits)
                .and_then(|m| m.checked_shl(host_bits))
                .unwrap_or(0)
        };
        match self.addr {
            IpAddr::V4(a) => {
                let bits = u128::from(a.to_bits()) & keep(32);
                IpAddr::V4(u32::try_from(bits).unwrap_or(0).into())
            }
            IpAddr::V6(a) => IpAddr::V6((a.to_bits() & keep(128)).into()),
        }
    }
}

impl FromStr for IpRange {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        IpRange::try_from(s.to_owned())
    }
}

impl From<IpRange> for String {
    fn from(range: IpRange) -> String {
        range.to_string()
    }
}

/// `10.0.0.0/8`, `fd00::/8`; a single address is written without its prefix.
impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let single = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == single {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

#[cfg(test)]
mod tests;
