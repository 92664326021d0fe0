//! The key-value quota: bytes (key plus value of every entry) each namespace may store.
//!
//! The namespace of a stored bucket is what the quota counts against: a function's private
//! buckets (`fn/NAME/BUCKET`) share the namespace `fn/NAME`, everything before the bucket's own
//! name, so the quota follows whatever [`KvScope`](crate::KvScope) puts in front of it (an owned
//! scope's `o/OWNER/fn/NAME`). A shared bucket (`shared/BUCKET`, or an owner's
//! `o/OWNER/shared/BUCKET`) is a namespace of its own: many functions write it and none owns it,
//! so charging the writer would let one function spend another's quota, and a delete by a third
//! would credit the wrong one.
//!
//! Both backends keep each namespace's usage next to the data and change the two in one atomic
//! step (a redb transaction, a Redis script), so the count is exact after a crash and a write
//! refused at the quota writes nothing.

use crate::error::{Error, Result};

/// Prefix of stored buckets that are shared between functions (see [`KvScope`](crate::KvScope)).
const SHARED_PREFIX: &str = "shared/";

/// The namespace whose quota a write to the stored bucket `bucket` counts against.
pub fn namespace(bucket: &str) -> &str {
    if is_shared(bucket) {
        return bucket;
    }
    bucket
        .rsplit_once('/')
        .map_or(bucket, |(namespace, _)| namespace)
}

/// Whether `bucket` is a shared one: `shared/B`, or an owner's `o/OWNER/shared/B`.
fn is_shared(bucket: &str) -> bool {
    bucket.starts_with(SHARED_PREFIX)
        || bucket
            .strip_prefix("o/")
            .and_then(|rest| rest.split_once('/'))
            .is_some_and(|(_, rest)| rest.starts_with(SHARED_PREFIX))
}

/// The namespace of the private buckets of the function `scope` belongs to.
pub fn private_namespace(scope: &crate::KvScope) -> Result<String> {
    // A name no shared grant can use, since grants are bucket names and this one is a valid
    // bucket name too: any private bucket resolves into the same namespace.
    let probe = scope.resolve("quota-probe")?;
    Ok(namespace(&probe).to_owned())
}

/// Bytes one entry counts for: its key and its value.
pub(crate) fn entry_size(key: &str, value_len: usize) -> u64 {
    (key.len() as u64).saturating_add(value_len as u64)
}

/// Refuses a change of `delta` bytes to a namespace using `used` when it grows past `max`;
/// a change that shrinks or keeps the usage always passes, even above a lowered quota.
pub(crate) fn admit(used: u64, delta: i64, max: u64) -> Result<u64> {
    let after = used.saturating_add_signed(delta);
    if delta > 0 && after > max {
        return Err(Error::QuotaExceeded { used: after, max });
    }
    Ok(after)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_buckets_share_their_function_namespace_and_shared_buckets_are_their_own() {
        assert_eq!(namespace("fn/orders/cart"), "fn/orders");
        assert_eq!(namespace("fn/issuer/orders/cart"), "fn/issuer/orders");
        assert_eq!(namespace("shared/prices"), "shared/prices");
        assert_eq!(namespace("plain"), "plain");
        let scope = crate::KvScope::new("orders", ["quota-probe"]).unwrap();
        assert_eq!(private_namespace(&scope).unwrap(), "shared/quota-probe");
        let scope = crate::KvScope::new("orders", ["prices"]).unwrap();
        assert_eq!(private_namespace(&scope).unwrap(), "fn/orders");
    }

    #[test]
    fn only_growth_past_the_quota_is_refused() {
        assert_eq!(admit(90, 10, 100).unwrap(), 100);
        assert!(matches!(
            admit(90, 11, 100),
            Err(Error::QuotaExceeded {
                used: 101,
                max: 100
            })
        ));
        assert_eq!(admit(150, -10, 100).unwrap(), 140, "shrinking passes");
        assert_eq!(admit(150, 0, 100).unwrap(), 150);
    }
}
