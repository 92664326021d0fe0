//! Host patterns: the destinations an issuer lets a function reach, signed into its claims
//! (`wasmgate sign --cap http-outgoing=api.example.com,*.svc.example.com:8443`).
//!
//! The shape follows Spin's `allowed_outbound_hosts`: an exact host, `*.` and a domain for any
//! host below it, or an IP address or CIDR range, each with an optional `:PORT`.

use crate::error::{Error, Result};
use crate::ip_range::IpRange;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// How to write a pattern; the end of every error message.
const PATTERN_RULE: &str = "write an exact host (`api.example.com`), `*.` and a domain for any host below it (`*.example.com`), or an IP address or CIDR range (`10.0.0.0/8`, `[fd00::/8]`), each optionally followed by `:PORT`";

/// Longest host name (RFC 1035 §2.3.4, without the trailing dot).
const MAX_HOST_LEN: usize = 253;

/// Longest label of a host name (RFC 1035 §2.3.4).
const MAX_LABEL_LEN: usize = 63;

/// One destination a grant allows: which hosts, and on which port (any port when none is given).
///
/// Host names are kept lowercase and without a trailing dot; matching ignores ASCII case and
/// one trailing dot of the requested host, as DNS does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostPattern {
    host: HostMatch,
    port: Option<u16>,
}

/// The host part of a [`HostPattern`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum HostMatch {
    /// This host name only.
    Exact(String),
    /// Any host name ending in this suffix, which starts with `.`: the domain itself is not
    /// included, nor is a name that merely ends in the same letters (`evilexample.com`).
    Below(String),
    /// Any address in this range, for requests and connections made by IP address.
    Address(IpRange),
}

impl HostPattern {
    /// Whether a request to the host name `host` on `port` may go ahead. `host` is compared
    /// ignoring ASCII case and one trailing dot; address patterns never match a name.
    pub fn matches_name(&self, host: &str, port: u16) -> bool {
        let host = host.strip_suffix('.').unwrap_or(host);
        let host_ok = match &self.host {
            HostMatch::Exact(name) => host.eq_ignore_ascii_case(name),
            HostMatch::Below(suffix) => {
                host.len() > suffix.len()
                    && host
                        .get(host.len() - suffix.len()..)
                        .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix))
            }
            HostMatch::Address(_) => false,
        };
        host_ok && self.port_ok(port)
    }

    /// Whether a request or connection to the address `ip` on `port` may go ahead; name
    /// patterns never match an address, since the name it came from is not known.
    pub fn matches_address(&self, ip: IpAddr, port: u16) -> bool {
        match &self.host {
            HostMatch::Address(range) => range.contains(ip) && self.port_ok(port),
            HostMatch::Exact(_) | HostMatch::Below(_) => false,
        }
    }

    /// Whether the pattern names addresses (an IP address or range) rather than host names:
    /// only those can match a raw socket connection, which is made to an address.
    pub fn is_address(&self) -> bool {
        matches!(self.host, HostMatch::Address(_))
    }

    /// The one port this pattern allows; `None` allows any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    fn port_ok(&self, port: u16) -> bool {
        self.port.is_none_or(|p| p == port)
    }
}

impl TryFrom<String> for HostPattern {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        parse(&text).map_err(|problem| Error::InvalidHostPattern {
            reason: format!("{problem}; {PATTERN_RULE}"),
            input: text,
        })
    }
}

fn parse(text: &str) -> std::result::Result<HostPattern, String> {
    if text.is_empty() {
        return Err("it is empty".into());
    }
    if let Some(c) = text.chars().find(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("{c:?} is not allowed"));
    }
    let (host, port) = split_port(text)?;
    let port = port.map(parse_port).transpose()?;
    let host = if host.contains(':') || host.contains('/') || host.parse::<IpAddr>().is_ok() {
        HostMatch::Address(host.parse::<IpRange>().map_err(|_| {
            format!(
                "`{}` is not an IP address or CIDR range",
                host.escape_debug()
            )
        })?)
    } else if let Some(domain) = host.strip_prefix("*.") {
        HostMatch::Below(format!(".{}", host_name(domain)?))
    } else {
        HostMatch::Exact(host_name(host)?)
    };
    Ok(HostPattern { host, port })
}

/// Splits `host:port`, `[v6]:port`, `[v6]` and a bare IPv6 address or range (more than one `:`).
fn split_port(text: &str) -> std::result::Result<(&str, Option<&str>), String> {
    if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']').ok_or("a `[` has no closing `]`")?;
        return match after {
            "" => Ok((inside, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((inside, Some(port))),
                None => Err(format!(
                    "`{}` after `]` is not `:PORT`",
                    after.escape_debug()
                )),
            },
        };
    }
    match text.matches(':').count() {
        0 => Ok((text, None)),
        1 => Ok(text
            .split_once(':')
            .map_or((text, None), |(host, port)| (host, Some(port)))),
        // An IPv6 address; with a port it must be bracketed.
        _ => Ok((text, None)),
    }
}

fn parse_port(port: &str) -> std::result::Result<u16, String> {
    port.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
        format!(
            "port `{}` is not a number from 1 to 65535",
            port.escape_debug()
        )
    })
}

/// Checks a host name (RFC 1123 §2.1 labels; `_` allowed as in service names) and returns it
/// lowercase without a trailing dot.
fn host_name(name: &str) -> std::result::Result<String, String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() {
        return Err("the host name is empty".into());
    }
    if name.contains('*') {
        return Err("`*` may only stand at the start, as `*.`".into());
    }
    if name.len() > MAX_HOST_LEN {
        return Err(format!(
            "the host name is longer than {MAX_HOST_LEN} characters"
        ));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err("the host name has an empty label (a doubled or leading `.`)".into());
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(format!(
                "label `{label}` is longer than {MAX_LABEL_LEN} characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!(
                "{c:?} is not allowed in a host name (write internationalised names in their `xn--` form)"
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label `{label}` starts or ends with `-`"));
        }
    }
    // RFC 3696 §2: a top-level domain is never all digits, so this was meant as an address.
    if name
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!(
            "`{name}` is neither a host name (its last label is all digits) nor an IP address"
        ));
    }
    Ok(name.to_ascii_lowercase())
}

impl FromStr for HostPattern {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        HostPattern::try_from(s.to_owned())
    }
}

impl From<HostPattern> for String {
    fn from(pattern: HostPattern) -> String {
        pattern.to_string()
    }
}

/// The pattern as it parses back: `api.example.com`, `*.example.com:8443`, `10.0.0.0/8`,
/// `[fd00::/8]:5432`.
impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.host, self.port) {
            (HostMatch::Exact(name), _) => f.write_str(name)?,
            (HostMatch::Below(suffix), _) => write!(f, "*{suffix}")?,
            (HostMatch::Address(range), Some(_)) if range.network().is_ipv6() => {
                write!(f, "[{range}]")?
            }
            (HostMatch::Address(range), _) => write!(f, "{range}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
