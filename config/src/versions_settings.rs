//! Versions (`[versions]`): how many past deploys of each function the node keeps for rollback.
//!
//! Every successful deploy of a name is a new version, kept with its precompiled artifact and
//! its signed original. Past `keep`, the oldest versions that take no traffic leave the disk.

use crate::duration::HumanDuration;
use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::time::Duration;

/// How long a canary (`PUT /functions/{name}?canary=10%`) runs before it is judged: five
/// minutes, long enough for a function called a few times a second to give its share hundreds of
/// calls, short enough that a bad version leaves a slice of traffic soon.
pub const DEFAULT_CANARY_WINDOW: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(300));

/// How much higher a canary's error rate (5xx per call) may be than the old version's: one
/// percentage point, so a version that fails one call in a hundred more is rolled back, while a
/// handful of errors in a few hundred calls on both sides is not noise enough to decide.
pub const DEFAULT_CANARY_ERROR_MARGIN: f64 = 0.01;

/// How much slower a canary's mean latency may be than the old version's, as a fraction: 0.5
/// (50% slower). A new version starts cold, and its first calls pay for loading: a tighter
/// default would roll back healthy versions of rarely called functions.
pub const DEFAULT_CANARY_LATENCY_MARGIN: f64 = 0.5;

/// Versions kept per function: 10. A team shipping several times a day can still roll back over
/// a day or two of deploys, and a function's kept code is bounded to ten artifacts plus ten
/// originals (a few hundred MiB at most for a large component; identical code is stored once).
/// `quotas.max_stored_bytes` counts the live versions only, so kept versions can hold up to
/// `keep` times that on disk: lower `keep` on a node short of disk.
pub const DEFAULT_VERSIONS_KEEP: u32 = 10;

/// Accepted values of `versions.keep`: at least the live version; at most 1,000, beyond which
/// the version list of one function stops being something an admin reads.
pub const VERSIONS_KEEP_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 1_000);

/// How many versions of each function are kept (`[versions]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VersionsSettings {
    /// Versions kept per function name, live ones included; versions taking traffic are kept
    /// even past it. Within [`VERSIONS_KEEP_RANGE`].
    pub keep: u32,
    /// How long a canary runs before it is promoted or rolled back; never zero.
    pub canary_window: HumanDuration,
    /// How much higher (absolute, 0 to 1) the canary's error rate may be than the old version's.
    pub canary_error_margin: f64,
    /// How much slower (a fraction, 0 to 100) the canary's mean latency may be than the old
    /// version's.
    pub canary_latency_margin: f64,
}

impl Default for VersionsSettings {
    fn default() -> Self {
        VersionsSettings {
            keep: DEFAULT_VERSIONS_KEEP,
            canary_window: DEFAULT_CANARY_WINDOW,
            canary_error_margin: DEFAULT_CANARY_ERROR_MARGIN,
            canary_latency_margin: DEFAULT_CANARY_LATENCY_MARGIN,
        }
    }
}

impl VersionsSettings {
    /// Checks the bound, naming the key to change.
    pub(crate) fn validate(&self) -> Result<()> {
        ensure(VERSIONS_KEEP_RANGE.contains(&self.keep), || {
            format!(
                "versions.keep {} is out of range: keep {} to {} versions per function, e.g. {DEFAULT_VERSIONS_KEEP}",
                self.keep,
                VERSIONS_KEEP_RANGE.start(),
                VERSIONS_KEEP_RANGE.end()
            )
        })?;
        ensure(!self.canary_window.is_zero(), || {
            format!(
                "versions.canary_window is zero: give a canary time to take calls, e.g. `{DEFAULT_CANARY_WINDOW}`"
            )
        })?;
        ensure((0.0..=1.0).contains(&self.canary_error_margin), || {
            format!(
                "versions.canary_error_margin {} is out of range: set 0 to 1 (a share of calls), e.g. {DEFAULT_CANARY_ERROR_MARGIN}",
                self.canary_error_margin
            )
        })?;
        ensure((0.0..=100.0).contains(&self.canary_latency_margin), || {
            format!(
                "versions.canary_latency_margin {} is out of range: set 0 to 100 (a fraction slower), e.g. {DEFAULT_CANARY_LATENCY_MARGIN}",
                self.canary_latency_margin
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_zero_or_too_many_is_refused_naming_the_key() {
        VersionsSettings::default().validate().unwrap();
        for (toml, key) in [
            ("keep = 0", "versions.keep"),
            ("keep = 1001", "versions.keep"),
            ("canary_window = \"0s\"", "versions.canary_window"),
            ("canary_error_margin = 1.5", "versions.canary_error_margin"),
            (
                "canary_latency_margin = -1.0",
                "versions.canary_latency_margin",
            ),
        ] {
            let settings: VersionsSettings = toml::from_str(toml).unwrap();
            let e = settings.validate().unwrap_err();
            assert_eq!(e.code(), "invalid_config");
            assert!(e.to_string().contains(key), "{e}");
        }
        let parsed: VersionsSettings = toml::from_str("keep = 3").unwrap();
        assert_eq!(parsed.keep, 3);
    }
}
