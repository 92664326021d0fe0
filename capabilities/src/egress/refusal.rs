//! Why the guard refused a destination, in the words logs, metrics and guests see.

use super::special_ranges::Denied;
use std::fmt;

/// A destination the egress guard refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The grant has a host list and the host (or socket address) is not in it; `wasi:http`
    /// guests see `HTTP-request-denied`.
    HostNotGranted,
    /// Every address of the host is special and no opened range holds it; `wasi:http` guests see
    /// `destination-IP-prohibited`.
    AddressDenied(Denied),
}

impl Refusal {
    /// Every [`reason`](Refusal::reason) label.
    pub const REASONS: [&'static str; 2] = ["host_not_granted", "address_denied"];

    /// The `reason` label of `wasmgate_egress_refused_total`: `host_not_granted` or
    /// `address_denied`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::HostNotGranted => "host_not_granted",
            Refusal::AddressDenied(_) => "address_denied",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::HostNotGranted => f.write_str("the host is not in the grant's host list"),
            Refusal::AddressDenied(denial) => write!(
                f,
                "the address is in {denial}; an operator may open it with [egress] allow"
            ),
        }
    }
}

impl std::error::Error for Refusal {}
