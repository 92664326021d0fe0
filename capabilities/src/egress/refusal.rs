//! Why the guard refused a destination, in the words logs, metrics and guests see.

use super::special_ranges::Denied;
use std::fmt;

/// A destination the egress guard refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The claims do not grant the capability (`http-outgoing`, `sockets`) at all: its interfaces
    /// are linked only so that runtimes importing them deploy; `wasi:http` guests see
    /// `HTTP-request-denied`, `wasi:sockets` guests `access-denied`.
    NotGranted,
    /// The grant has a host list and the host (or socket address) is not in it; `wasi:http`
    /// guests see `HTTP-request-denied`.
    HostNotGranted,
    /// Every address of the host is special and no opened range holds it; `wasi:http` guests see
    /// `destination-IP-prohibited`.
    AddressDenied(Denied),
}

impl Refusal {
    /// Every [`reason`](Refusal::reason) label.
    pub const REASONS: [&'static str; 3] = ["not_granted", "host_not_granted", "address_denied"];

    /// The `reason` label of `wasmgate_egress_refused_total`: `not_granted`, `host_not_granted`
    /// or `address_denied`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotGranted => "not_granted",
            Refusal::HostNotGranted => "host_not_granted",
            Refusal::AddressDenied(_) => "address_denied",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotGranted => f.write_str(
                "the function's signature grants no network access of this kind; sign it with the capability (e.g. --cap http-outgoing) and the hosts it may reach",
            ),
            Refusal::HostNotGranted => f.write_str("the host is not in the grant's host list"),
            Refusal::AddressDenied(denial) => write!(
                f,
                "the address is in {denial}; an operator may open it with [egress] allow"
            ),
        }
    }
}

impl std::error::Error for Refusal {}
