//! Byte sizes written the way people write them: `64MiB`, `10MB`, `4096`.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Units a size may carry, largest first within each base, so `Display` picks the shortest form.
/// Matched case-insensitively.
const UNITS: [(&str, u64); 9] = [
    ("TiB", 1 << 40),
    ("GiB", 1 << 30),
    ("MiB", 1 << 20),
    ("KiB", 1 << 10),
    ("TB", 1_000_000_000_000),
    ("GB", 1_000_000_000),
    ("MB", 1_000_000),
    ("KB", 1_000),
    ("B", 1),
];

/// How to write a size; the end of every error message.
const SIZE_RULE: &str = "write a whole number of bytes (`4096`) or a number with a unit: KiB, MiB, GiB, TiB (1024-based), KB, MB, GB, TB (1000-based), e.g. `64MiB` or `1.5GiB`";

/// An amount of memory or data, such as a memory limit or an upload limit.
///
/// Parses `64MiB`, `512KiB`, `10MB`, `1.5GiB` and plain byte counts such as `4096`; prints the
/// shortest exact form, which parses back to the same value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ByteSize(u64);

impl ByteSize {
    /// A size of exactly `bytes` bytes.
    pub const fn from_bytes(bytes: u64) -> Self {
        ByteSize(bytes)
    }

    /// `n` KiB (1024 bytes each), saturating at `u64::MAX`.
    pub const fn kib(n: u64) -> Self {
        ByteSize(n.saturating_mul(1 << 10))
    }

    /// `n` MiB, saturating at `u64::MAX`.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n.saturating_mul(1 << 20))
    }

    /// `n` GiB, saturating at `u64::MAX`.
    pub const fn gib(n: u64) -> Self {
        ByteSize(n.saturating_mul(1 << 30))
    }

    /// The size in bytes.
    pub const fn bytes(&self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for ByteSize {
    type Error = Error;

    fn try_from(input: String) -> Result<Self> {
        parse(&input)
            .map(ByteSize)
            .map_err(|problem| Error::InvalidByteSize {
                reason: format!("{problem}; {SIZE_RULE}"),
                input,
            })
    }
}

/// Parses with exact integer arithmetic, so `1.5GiB` is exactly 1610612736 bytes.
fn parse(input: &str) -> std::result::Result<u64, String> {
    let text = input.trim();
    if text.is_empty() {
        return Err("it is empty".into());
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim_start());
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() || (number.contains('.') && fraction.is_empty()) || fraction.contains('.') {
        return Err("it does not start with a number".into());
    }
    let multiplier = match UNITS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(unit))
    {
        Some(&(_, multiplier)) => multiplier,
        None if unit.is_empty() => 1,
        None => return Err(format!("`{unit}` is not a unit")),
    };
    let too_large = || format!("it is larger than {} bytes", u64::MAX);
    let whole: u128 = whole.parse().map_err(|_| too_large())?;
    let scale = u32::try_from(fraction.len())
        .ok()
        .and_then(|digits| 10u128.checked_pow(digits))
        .ok_or("it has too many decimal places")?;
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().map_err(|_| too_large())?
    };
    let fraction_bytes = fraction
        .checked_mul(u128::from(multiplier))
        .ok_or("it has too many decimal places")?;
    if !fraction_bytes.is_multiple_of(scale) {
        return Err("it is not a whole number of bytes".into());
    }
    whole
        .checked_mul(u128::from(multiplier))
        .and_then(|bytes| bytes.checked_add(fraction_bytes / scale))
        .and_then(|bytes| u64::try_from(bytes).ok())
        .ok_or_else(too_large)
}

impl FromStr for ByteSize {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::try_from(s.to_owned())
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, multiplier) = UNITS
            .iter()
            .find(|(_, multiplier)| self.0 != 0 && self.0.is_multiple_of(*multiplier))
            .copied()
            .unwrap_or(("B", 1));
        write!(f, "{}{name}", self.0 / multiplier)
    }
}

impl From<ByteSize> for String {
    fn from(size: ByteSize) -> String {
        size.to_string()
    }
}

#[cfg(test)]
mod tests;
