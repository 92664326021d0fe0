//! What a node lets functions and its own callbacks reach beyond the public internet (`[egress]`).

use crate::defaults::DEFAULT_EGRESS_ALLOW;
use crate::ip_range::IpRange;
use serde::Deserialize;

/// Internal address ranges the operator opens (`[egress]`).
///
/// Every outgoing connection a guest makes (`wasi:http`, `wasi:sockets`) or the gateway makes on
/// a caller's behalf (async-call callbacks) is refused when its address is loopback, private,
/// link-local or otherwise special, unless a range listed here holds it. Opening a range does not
/// widen any function's host list: a function reaches an opened address only when its grant
/// allows the host.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EgressSettings {
    /// Ranges reachable despite being special, e.g. `["10.0.0.0/8", "127.0.0.1/32"]`.
    pub allow: Vec<IpRange>,
}

impl Default for EgressSettings {
    fn default() -> Self {
        EgressSettings {
            allow: DEFAULT_EGRESS_ALLOW.to_vec(),
        }
    }
}
