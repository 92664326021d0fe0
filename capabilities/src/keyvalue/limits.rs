//! What one guest may ask of the key-value store: key length, value size, open buckets.
//!
//! A hostile guest could otherwise grow host memory without bound: every open bucket is an entry
//! in its resource table, and every value is copied into a storage write.

use crate::error::{Error, Result};
use crate::instance_limit::{InstanceLimit, InstanceUse};

/// Longest key accepted, in bytes.
///
/// A key names an entry, it does not carry data: 1KiB is far beyond any sensible name, and it
/// keeps keys well inside every backend's limits and cheap to list.
pub const MAX_KEY_LEN: usize = 1024;

/// Largest value accepted, in bytes.
///
/// A key-value entry is a record, not a file: 1MiB holds any document a handler keeps, and it
/// bounds the host memory and the storage write each `set` costs; blobs belong elsewhere.
pub const MAX_VALUE_SIZE: usize = 1 << 20;

/// Refuses a key longer than [`MAX_KEY_LEN`].
pub(crate) fn check_key(key: &str) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong {
            len: key.len(),
            max: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// Refuses a key longer than [`MAX_KEY_LEN`] or a value larger than [`MAX_VALUE_SIZE`].
pub(crate) fn check_entry(key: &str, value: &[u8]) -> Result<()> {
    check_key(key)?;
    if value.len() > MAX_VALUE_SIZE {
        return Err(Error::ValueTooLarge {
            len: value.len(),
            max: MAX_VALUE_SIZE,
        });
    }
    Ok(())
}

/// One instance's open buckets, counted against its function's `max_open_buckets`.
///
/// Lives in the store data beside the resource table, since it counts what the table holds.
#[derive(Debug, Default)]
pub struct KvUsage {
    open_buckets: InstanceUse,
}

impl KvUsage {
    /// Admits one more open bucket, or refuses it at `limit` (logging the instance's first
    /// refusal).
    pub(crate) fn open(&mut self, limit: &InstanceLimit, function: &str) -> Result<()> {
        self.open_buckets.take(limit).map_err(|refused| {
            if refused.first {
                tracing::warn!(
                    function,
                    max = limit.max,
                    "guest reached its open-bucket limit; further opens fail"
                );
            }
            Error::TooManyBuckets { max: limit.max }
        })
    }

    /// Releases one open bucket.
    pub(crate) fn close(&mut self) {
        self.open_buckets.give_back();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_are_bounded_at_exactly_their_limits() {
        assert!(check_key(&"k".repeat(MAX_KEY_LEN)).is_ok());
        assert!(matches!(
            check_key(&"k".repeat(MAX_KEY_LEN + 1)),
            Err(Error::KeyTooLong {
                len: 1025,
                max: 1024
            })
        ));
        assert!(check_entry("k", &vec![0; MAX_VALUE_SIZE]).is_ok());
        assert!(matches!(
            check_entry("k", &vec![0; MAX_VALUE_SIZE + 1]),
            Err(Error::ValueTooLarge {
                max: MAX_VALUE_SIZE,
                ..
            })
        ));
    }

    #[test]
    fn open_buckets_are_refused_past_the_limit_and_counted_once_per_instance() {
        let limit = InstanceLimit::new(2);
        let mut usage = KvUsage::default();
        usage.open(&limit, "f").unwrap();
        usage.open(&limit, "f").unwrap();
        for _ in 0..3 {
            assert!(matches!(
                usage.open(&limit, "f"),
                Err(Error::TooManyBuckets { max: 2 })
            ));
        }
        assert_eq!(limit.hits(), 1);
        usage.close();
        usage.open(&limit, "f").unwrap();
        let mut other = KvUsage::default();
        other.open(&limit.clone(), "f").unwrap();
        assert_eq!(limit.hits(), 1);
    }
}
