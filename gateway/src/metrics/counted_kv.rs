//! A key-value backend that counts every operation in `wasmgate_kv_operations_total{op,backend}`.
//!
//! It wraps whichever backend the node uses, so the count is the same for both and the
//! capabilities crate stays free of metrics. Writes refused at the key-value quota are counted in
//! `wasmgate_quota_refusals_total{quota="max_kv_bytes"}` too.

use async_trait::async_trait;
use prometheus::{IntCounter, IntCounterVec};
use std::sync::Arc;
use wasmgate_capabilities::keyvalue::{KeyPage, ListFrom};
use wasmgate_capabilities::{Error, KvBackend, Result};

/// The operations counted, in the order of [`Counted::counters`].
const OPS: [&str; 9] = [
    "get",
    "set",
    "delete",
    "exists",
    "list_keys",
    "increment",
    "get_many",
    "set_many",
    "delete_many",
];

/// `inner`, with each call counted; the counters are resolved once, so counting is one atomic add.
pub struct CountedKv {
    inner: Arc<dyn KvBackend>,
    counters: [IntCounter; OPS.len()],
    quota_refusals: IntCounter,
}

impl CountedKv {
    /// Wraps `inner`, counting into `family` labelled with the operation and `inner.name()`, and
    /// each write refused at the quota into `quota_refusals`.
    pub fn new(
        inner: Arc<dyn KvBackend>,
        family: &IntCounterVec,
        quota_refusals: IntCounter,
    ) -> Self {
        let backend = inner.name();
        let counters = OPS.map(|op| family.with_label_values(&[op, backend]));
        CountedKv {
            inner,
            counters,
            quota_refusals,
        }
    }

    fn count(&self, op: usize) {
        self.counters[op].inc();
    }

    /// Passes `result` on, counting a quota refusal.
    fn written<T>(&self, result: Result<T>) -> Result<T> {
        if let Err(Error::QuotaExceeded { .. }) = &result {
            self.quota_refusals.inc();
        }
        result
    }
}

#[async_trait]
impl KvBackend for CountedKv {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    /// An admin act, not a guest operation: not counted in the per-operation family.
    async fn purge(&self, prefix: &str) -> Result<u64> {
        self.inner.purge(prefix).await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        self.count(0);
        self.inner.get(bucket, key).await
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<()> {
        self.count(1);
        self.written(self.inner.set(bucket, key, value).await)
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        self.count(2);
        self.written(self.inner.delete(bucket, key).await)
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        self.count(3);
        self.inner.exists(bucket, key).await
    }

    async fn list_keys(&self, bucket: &str, from: ListFrom) -> Result<KeyPage> {
        self.count(4);
        self.inner.list_keys(bucket, from).await
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        self.count(5);
        self.written(self.inner.increment(bucket, key, delta).await)
    }

    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        self.count(6);
        self.inner.get_many(bucket, keys).await
    }

    async fn set_many(&self, bucket: &str, entries: Vec<(String, Vec<u8>)>) -> Result<()> {
        self.count(7);
        self.written(self.inner.set_many(bucket, entries).await)
    }

    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()> {
        self.count(8);
        self.written(self.inner.delete_many(bucket, keys).await)
    }

    async fn usage(&self, namespace: &str) -> Result<u64> {
        self.inner.usage(namespace).await
    }
}
