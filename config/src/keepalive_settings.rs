//! Which functions stay loaded between calls, and for how long (`[keepalive]`).
//!
//! The rules themselves live in `wasmgate-policy` (no I/O, an injected clock), so the node and
//! the trace simulator (`wasmgate-loadtest simulate`) run the same code; this section only
//! chooses one.

use crate::error::Result;
use crate::validate::ensure;
use serde::{Deserialize, Deserializer};
pub use wasmgate_policy::KeepAlivePolicy;

/// The node's keep-alive policy and its time scale (`[keepalive]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeepAliveSettings {
    /// The policy, by name: `fixed` (keep each function loaded for its manifest's
    /// `idle_timeout`, least recently used first under `pool.code_budget`: the behaviour before
    /// this setting existed, and the default), `fixed:DURATION` (one keep-alive for all, e.g.
    /// `fixed:10m` as AWS Lambda), `adaptive` (each function kept only while the memory it holds
    /// is expected to cost less than the cold start it saves, from its idle-time histogram after
    /// Shahrad et al., "Serverless in the Wild", ATC 2020, and its measured bytes; a cold start
    /// is worth 64 MiB held 10 minutes unless written `adaptive@BYTES*DURATION`, e.g.
    /// `adaptive@16MiB*10m`; under the budget, Greedy-Dual eviction by measured cold-start cost
    /// per byte, after Fuerst & Sharma, "FaaSCache", ASPLOS 2021), `hybrid` (SitW's own windows
    /// with the same eviction), and the baselines `histogram`, `greedy-dual`, `lru`, `none`.
    /// `adaptive:DURATION` and the like replace `idle_timeout` as the fallback while a
    /// function's pattern is unknown (for `adaptive`, the least it keeps an unknown function).
    #[serde(deserialize_with = "policy_from_text")]
    pub policy: KeepAlivePolicy,
    /// How many times faster than real time the node's traffic runs: 1 for real traffic; `k`
    /// when replaying a recorded trace `k` times faster, so the idle-time histogram's one-minute
    /// bins become `60 / k` seconds (and frequencies decay `k` times faster) and the windows it
    /// learns are those of the original trace. Between 1 and 10000.
    pub time_scale: f64,
}

impl Default for KeepAliveSettings {
    fn default() -> Self {
        KeepAliveSettings {
            policy: KeepAlivePolicy::default(),
            time_scale: 1.0,
        }
    }
}

impl KeepAliveSettings {
    /// Checks the time scale's range.
    pub(crate) fn validate(&self) -> Result<()> {
        ensure(
            self.time_scale.is_finite() && (1.0..=10_000.0).contains(&self.time_scale),
            || {
                format!(
                    "keepalive.time_scale {} is out of range: 1 for real traffic, up to 10000 for a trace replayed that many times faster",
                    self.time_scale
                )
            },
        )
    }
}

fn policy_from_text<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<KeepAlivePolicy, D::Error> {
    let text = String::deserialize(deserializer)?;
    text.parse().map_err(serde::de::Error::custom)
}
