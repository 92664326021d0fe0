//! Versions (`[versions]`): how many past deploys of each function the node keeps for rollback.
//!
//! Every successful deploy of a name is a new version, kept with its precompiled artifact and
//! its signed original. Past `keep`, the oldest versions that take no traffic leave the disk.

use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;
use std::ops::RangeInclusive;

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
}

impl Default for VersionsSettings {
    fn default() -> Self {
        VersionsSettings {
            keep: DEFAULT_VERSIONS_KEEP,
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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_valid_and_zero_or_too_many_is_refused_naming_the_key() {
        VersionsSettings::default().validate().unwrap();
        for keep in [0, 1_001] {
            let e = VersionsSettings { keep }.validate().unwrap_err();
            assert_eq!(e.code(), "invalid_config");
            assert!(e.to_string().contains("versions.keep"), "{e}");
        }
        let parsed: VersionsSettings = toml::from_str("keep = 3").unwrap();
        assert_eq!(parsed.keep, 3);
    }
}
