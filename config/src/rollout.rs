//! How new versions of a function roll out (`[rollout]`): whether a deploy starts as a canary,
//! and how a canary of this function is judged.
//!
//! ```toml
//! [rollout]
//! canary = "10%"        # every deploy that replaces a version starts as a 10% canary
//! window = "10m"        # judged after 10 minutes (node default: versions.canary_window)
//! error_margin = 0.02   # may fail 2 points more often than the old version
//! latency_margin = 0.25 # may be 25% slower on average
//! ```
//!
//! A deploy's `?canary=N%` takes precedence over `canary`; `window` and the margins apply to
//! every canary of the function, however it was asked for. A first deploy has nothing to compare
//! with and goes live whole.

use crate::duration::HumanDuration;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// How a canary share is written; the end of every refusal of one.
pub const CANARY_SHARE_RULE: &str =
    "write a whole percent from 1 to 99, as `N%` or `N`, e.g. `10%`";

/// Longest canary window accepted: 7 days. A canary holds its split (and two versions' code)
/// until it is judged; a week covers a weekly traffic cycle.
pub const MAX_CANARY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// The share of a function's traffic a canary takes: a whole percent from 1 to 99.
///
/// Written `"10%"` or `10` in a manifest, `10%` or `10` in a deploy's `?canary=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "ShareText", into = "String")]
pub struct CanaryShare(u8);

/// A share as a manifest writes it, before it is checked.
#[derive(Deserialize)]
#[serde(untagged)]
enum ShareText {
    Number(i64),
    Text(String),
}

impl CanaryShare {
    /// Parses `10%` or `10`; the problem (without the rule) when it is not a share.
    pub fn parse(text: &str) -> std::result::Result<CanaryShare, String> {
        let digits = text.strip_suffix('%').unwrap_or(text);
        match digits.parse::<i64>() {
            Ok(n) => CanaryShare::from_percent(n),
            Err(_) => Err(format!("`{}` is not a share", crate::shown(text))),
        }
    }

    fn from_percent(n: i64) -> std::result::Result<CanaryShare, String> {
        u8::try_from(n)
            .ok()
            .filter(|n| (1..=99).contains(n))
            .map(CanaryShare)
            .ok_or_else(|| format!("{n}% is outside 1% to 99%"))
    }

    /// The share, in percent (1 to 99).
    pub fn percent(self) -> u8 {
        self.0
    }
}

impl TryFrom<ShareText> for CanaryShare {
    type Error = Error;

    fn try_from(text: ShareText) -> Result<Self> {
        match text {
            ShareText::Number(n) => CanaryShare::from_percent(n),
            ShareText::Text(text) => CanaryShare::parse(&text),
        }
        .map_err(|problem| Error::InvalidManifest {
            reason: format!("rollout.canary {problem}: {CANARY_SHARE_RULE}"),
        })
    }
}

impl From<CanaryShare> for String {
    fn from(share: CanaryShare) -> String {
        share.to_string()
    }
}

impl fmt::Display for CanaryShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// The `[rollout]` section. Empty (the default): deploys go live whole, and a canary asked for
/// by `?canary=` is judged by the node's `[versions]` settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RolloutSection {
    /// Every deploy that replaces a serving version starts as a canary with this share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryShare>,
    /// How long this function's canaries run before they are judged; above zero, at most
    /// [`MAX_CANARY_WINDOW`]. Node default: `versions.canary_window`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<HumanDuration>,
    /// How much higher (absolute, 0 to 1) a canary's error rate may be than the old version's.
    /// Node default: `versions.canary_error_margin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_margin: Option<f64>,
    /// How much slower (a fraction, 0 to 100) a canary's mean latency may be than the old
    /// version's. Node default: `versions.canary_latency_margin`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_margin: Option<f64>,
}

impl RolloutSection {
    /// Checks the window and margins, naming the key to change.
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidManifest { reason });
        if self
            .window
            .is_some_and(|w| w.is_zero() || w.get() > MAX_CANARY_WINDOW)
        {
            return invalid(format!(
                "rollout.window must be above zero and at most {}, e.g. `10m`",
                HumanDuration::from_duration(MAX_CANARY_WINDOW)
            ));
        }
        if let Some(m) = self.error_margin
            && !(0.0..=1.0).contains(&m)
        {
            return invalid(format!(
                "rollout.error_margin {m} is out of range: set 0 to 1 (a share of calls), e.g. 0.01"
            ));
        }
        if let Some(m) = self.latency_margin
            && !(0.0..=100.0).contains(&m)
        {
            return invalid(format!(
                "rollout.latency_margin {m} is out of range: set 0 to 100 (a fraction slower), e.g. 0.5"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Manifest;

    fn rollout(toml: &str) -> Result<RolloutSection> {
        Manifest::from_toml(&format!("[rollout]\n{toml}")).map(|m| m.rollout)
    }

    #[test]
    fn a_share_is_a_percent_or_a_number_and_round_trips() {
        assert_eq!(
            rollout("canary = \"10%\"").unwrap().canary,
            Some(CanaryShare(10))
        );
        assert_eq!(rollout("canary = 5").unwrap().canary, Some(CanaryShare(5)));
        let section = rollout("canary = 99\nwindow = \"90s\"\nerror_margin = 0.0").unwrap();
        let json = serde_json::to_string(&section).unwrap();
        assert_eq!(
            serde_json::from_str::<RolloutSection>(&json).unwrap(),
            section
        );
        assert_eq!(CanaryShare::parse("25%").unwrap().percent(), 25);
    }

    #[test]
    fn bad_shares_windows_and_margins_are_refused_naming_the_key() {
        for (toml, says) in [
            ("canary = 0", "rollout.canary"),
            ("canary = \"100%\"", "rollout.canary"),
            ("canary = \"ten\"", "rollout.canary"),
            ("canary = -3", "rollout.canary"),
            ("window = \"0s\"", "rollout.window"),
            ("window = \"8d\"", "rollout.window"),
            ("error_margin = 1.5", "rollout.error_margin"),
            ("latency_margin = -0.1", "rollout.latency_margin"),
            ("share = 10", "unknown field"),
        ] {
            let e = rollout(toml).unwrap_err();
            assert_eq!(e.code(), "invalid_manifest", "{toml}");
            assert!(e.to_string().contains(says), "{toml}: {e}");
        }
    }
}
