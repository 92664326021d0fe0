//! The counter encoding both backends share: canonical decimal text in `0..=i64::MAX`.

use crate::error::{Error, Result};

/// The counter stored as `bytes`, if they are one.
///
/// Only the canonical form counts (no sign, no leading zeros, no spaces), exactly what Redis
/// accepts for `HINCRBY` apart from negative numbers, which a `u64` counter cannot hold.
pub(crate) fn parse(bytes: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(bytes).ok()?;
    let value: i64 = text.parse().ok()?;
    (value >= 0 && value.to_string() == text).then_some(value.unsigned_abs())
}

/// The text a counter of `value` is stored as.
pub(crate) fn format(value: u64) -> Vec<u8> {
    value.to_string().into_bytes()
}

/// `current + delta`, refused past `i64::MAX` so both backends overflow at the same point.
pub(crate) fn add(key: &str, current: u64, delta: u64) -> Result<u64> {
    current
        .checked_add(delta)
        .filter(|sum| i64::try_from(*sum).is_ok())
        .ok_or_else(|| Error::CounterOverflow {
            key: key.to_owned(),
        })
}

/// `delta` as the signed number Redis takes, refused past `i64::MAX`.
pub(crate) fn signed_delta(key: &str, delta: u64) -> Result<i64> {
    i64::try_from(delta).map_err(|_| Error::CounterOverflow {
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_canonical_non_negative_decimals_are_counters() {
        assert_eq!(parse(b"0"), Some(0));
        assert_eq!(parse(b"42"), Some(42));
        assert_eq!(parse(b"9223372036854775807"), Some(i64::MAX.unsigned_abs()));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b"007",
            b" 1",
            b"1.5",
            b"abc",
            b"9223372036854775808",
            &[0xff],
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        assert_eq!(parse(&format(17)), Some(17));
    }

    #[test]
    fn adding_past_i64_max_overflows() {
        let max = i64::MAX.unsigned_abs();
        assert_eq!(add("k", max - 1, 1).ok(), Some(max));
        assert!(matches!(
            add("k", max, 1),
            Err(Error::CounterOverflow { .. })
        ));
        assert!(matches!(
            signed_delta("k", max + 1),
            Err(Error::CounterOverflow { .. })
        ));
    }
}
