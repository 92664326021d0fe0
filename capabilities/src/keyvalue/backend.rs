//! The seam between the `wasi:keyvalue` host and the storage behind it.

use crate::error::Result;
use async_trait::async_trait;

/// Most keys one `list_keys` call returns.
///
/// A thousand keys of typical length is a few tens of KiB: small enough for any guest to
/// take in one response, large enough that listing a big bucket takes few round trips.
pub const LIST_PAGE_SIZE: usize = 1000;

/// One page of a bucket's keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPage {
    /// Keys on this page, in no order the caller may rely on.
    pub keys: Vec<String>,
    /// Where the listing goes on; `None` on the last page.
    pub next: Option<ListFrom>,
}

/// Where a listing of a bucket's keys goes on from: what each backend needs so that every key
/// present, unchanged, from the first page to the last is listed exactly once, whatever else is
/// written or deleted in between (a position counted in keys is not: deleting keys already
/// listed would skip as many unlisted ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListFrom {
    /// The first page.
    #[default]
    Start,
    /// Keys after this one in byte order (the embedded store keeps a bucket's keys sorted).
    After(String),
    /// A Redis `HSCAN` cursor and the keys listed so far: `HSCAN` returns every key present
    /// throughout at least once but may repeat one when the hash is resized in between
    /// (<https://redis.io/docs/latest/commands/scan/#scan-guarantees>), so repeats are dropped.
    Scan {
        /// The cursor `HSCAN` answered.
        cursor: u64,
        /// Every key listed so far.
        listed: std::collections::HashSet<String>,
    },
}

/// Storage for key-value buckets, shared by every function on the node.
///
/// Buckets here are storage names already resolved by [`KvScope`](crate::KvScope); a backend
/// never sees guest-chosen names and needs no access control of its own. A bucket exists as
/// soon as it holds a key.
///
/// Every write that would take its bucket's [namespace](crate::keyvalue::namespace) past the
/// backend's quota fails with [`QuotaExceeded`](crate::Error::QuotaExceeded) and writes nothing;
/// a backend keeps each namespace's usage exact, across restarts and crashes.
///
/// Every write is durable before its future completes, to the extent the backend promises
/// (see each implementation). Counters written by [`increment`](KvBackend::increment) are
/// the canonical ASCII decimal text of a number in `0..=i64::MAX` (`"0"`, `"42"`, no sign,
/// no leading zeros), the format Redis uses for its own counters, so a guest can also read
/// them with `get` and both backends agree byte for byte.
#[async_trait]
pub trait KvBackend: Send + Sync + 'static {
    /// Short backend name for metrics labels and logs: `"redb"` or `"redis"`.
    fn name(&self) -> &'static str;

    /// The value under `key`, or `None` when there is none.
    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>>;

    /// Stores `value` under `key`, replacing any previous value; durable on return.
    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<()>;

    /// Removes `key`; removing a missing key succeeds. Durable on return.
    async fn delete(&self, bucket: &str, key: &str) -> Result<()>;

    /// Whether `key` has a value.
    async fn exists(&self, bucket: &str, key: &str) -> Result<bool>;

    /// A page of at most about [`LIST_PAGE_SIZE`] keys, going on `from` where the previous page
    /// ended ([`ListFrom::Start`] for the first). Every key present and unchanged during the
    /// whole listing is listed exactly once; keys written while listing may or may not be.
    async fn list_keys(&self, bucket: &str, from: ListFrom) -> Result<KeyPage>;

    /// Atomically adds `delta` to the counter under `key` (a missing key counts as 0) and
    /// returns the new value; durable on return.
    ///
    /// Fails with [`NotACounter`](crate::Error::NotACounter) when the existing value is not a
    /// counter, and with [`CounterOverflow`](crate::Error::CounterOverflow) when the result
    /// would exceed `i64::MAX`; in both cases nothing changes.
    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64>;

    /// The values of `keys`, in the same order, `None` where a key has no value.
    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>>;

    /// Stores every entry; durable on return.
    async fn set_many(&self, bucket: &str, entries: Vec<(String, Vec<u8>)>) -> Result<()>;

    /// Removes every key in `keys`, skipping missing ones; durable on return.
    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()>;

    /// Removes every bucket whose stored name starts with `prefix` (a function's
    /// [`private_prefix`](crate::KvScope::private_prefix)), every key and value of them; returns
    /// how many keys were removed. Durable on return; an empty `prefix` is refused
    /// ([`InvalidScope`](crate::Error::InvalidScope)) rather than emptying the store.
    async fn purge(&self, prefix: &str) -> Result<u64>;

    /// Bytes (key plus value of every entry) stored in `namespace` (see
    /// [`namespace`](crate::keyvalue::namespace)), as counted against the key-value quota.
    async fn usage(&self, namespace: &str) -> Result<u64>;
}

/// Refuses the empty prefix a purge would read as "everything".
pub(crate) fn check_purge_prefix(prefix: &str) -> Result<()> {
    if prefix.is_empty() {
        return Err(crate::Error::InvalidScope {
            name: String::new(),
            reason: "a purge needs a non-empty bucket prefix",
        });
    }
    Ok(())
}
