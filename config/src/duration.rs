//! Durations written the way people write them: `300ms`, `30s`, `5m`, `1h 30m`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// How to write a duration; the end of every error message.
const DURATION_RULE: &str =
    "write a number and a unit (ns, us, ms, s, m, h, d), e.g. `300ms`, `30s`, `5m` or `1h 30m`";

/// Units `Display` prints with, largest first; each also parses.
const UNITS: [(&str, u128); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

/// A timeout, interval or grace period, in humantime syntax (`300ms`, `90s`, `1h 30m`, `90d`).
///
/// Zero parses; each setting that takes one says whether zero is allowed and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HumanDuration(Duration);

impl HumanDuration {
    /// Wraps `duration`.
    pub const fn from_duration(duration: Duration) -> Self {
        HumanDuration(duration)
    }

    /// The duration.
    pub const fn get(&self) -> Duration {
        self.0
    }

    /// Whether this is zero, which many settings refuse.
    pub const fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl TryFrom<String> for HumanDuration {
    type Error = Error;

    fn try_from(input: String) -> Result<Self> {
        let problem = if input.trim().is_empty() {
            "it is empty".to_owned()
        } else {
            match humantime::parse_duration(input.trim()) {
                Ok(duration) => return Ok(HumanDuration(duration)),
                Err(e) => e.to_string(),
            }
        };
        Err(Error::InvalidDuration {
            reason: format!("{problem}; {DURATION_RULE}"),
            input,
        })
    }
}

impl FromStr for HumanDuration {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::try_from(s.to_owned())
    }
}

impl From<Duration> for HumanDuration {
    fn from(duration: Duration) -> Self {
        HumanDuration(duration)
    }
}

impl From<HumanDuration> for Duration {
    fn from(duration: HumanDuration) -> Self {
        duration.0
    }
}

/// Prints whole units only (`1h 30m`, `300ms`), never months or years, whose length humantime
/// approximates: what prints is exactly what parses back.
impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0.as_nanos();
        if rest == 0 {
            return f.write_str("0s");
        }
        let mut separator = "";
        for (name, nanos) in UNITS {
            let count = rest / nanos;
            if count > 0 {
                write!(f, "{separator}{count}{name}")?;
                separator = " ";
                rest %= nanos;
            }
        }
        Ok(())
    }
}

impl From<HumanDuration> for String {
    fn from(duration: HumanDuration) -> String {
        duration.to_string()
    }
}

#[cfg(test)]
mod tests;
