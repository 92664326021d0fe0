//! The node's cache of loaded functions: single-flight cold starts, idle expiry, a byte budget.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::warm::Warm;
use moka::Expiry;
use moka::future::Cache;
use moka::notification::RemovalCause;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Identifies one deployed version of one function; a replace gets a new key even when the
/// artifact is unchanged, because the manifest (limits, `min_instances`) may differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CodeKey {
    pub(crate) name: Arc<str>,
    pub(crate) artifact: Digest,
    pub(crate) generation: u64,
}

/// Counts of why loaded functions left memory, for metrics.
#[derive(Debug, Default)]
pub struct Evictions {
    /// Dropped after `idle_timeout` without work (scale to zero).
    pub idle: AtomicU64,
    /// Dropped because loaded code exceeded the node's code budget.
    pub budget: AtomicU64,
    /// Dropped because the function was replaced or deleted.
    pub removed: AtomicU64,
}

/// Loaded functions weighed by code bytes under the node budget; the least valuable go first.
///
/// moka's TinyLFU policy judges value by recent access frequency, so under pressure a rarely used
/// function is evicted (or never admitted) before a busy one.
pub(crate) struct CodeCache {
    cache: Cache<CodeKey, Arc<Warm>>,
    evictions: Arc<Evictions>,
}

/// Per-entry idle timeout: each function's own `idle_timeout`, renewed on every use.
struct IdleExpiry;

impl Expiry<CodeKey, Arc<Warm>> for IdleExpiry {
    fn expire_after_create(&self, _: &CodeKey, warm: &Arc<Warm>, _: Instant) -> Option<Duration> {
        warm.idle_timeout
    }

    fn expire_after_read(
        &self,
        _: &CodeKey,
        warm: &Arc<Warm>,
        _: Instant,
        _: Option<Duration>,
        _: Instant,
    ) -> Option<Duration> {
        warm.idle_timeout
    }

    fn expire_after_update(
        &self,
        _: &CodeKey,
        warm: &Arc<Warm>,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        warm.idle_timeout
    }
}

impl CodeCache {
    /// A cache holding at most `budget` bytes of loaded code.
    pub(crate) fn new(budget: u64) -> Self {
        let evictions = Arc::new(Evictions::default());
        let counts = evictions.clone();
        let cache = Cache::builder()
            .max_capacity(budget)
            .weigher(|_, warm: &Arc<Warm>| u32::try_from(warm.code_bytes).unwrap_or(u32::MAX))
            .expire_after(IdleExpiry)
            .eviction_listener(move |key: Arc<CodeKey>, _, cause| {
                let counter = match cause {
                    RemovalCause::Expired => &counts.idle,
                    RemovalCause::Size => &counts.budget,
                    RemovalCause::Explicit | RemovalCause::Replaced => &counts.removed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(function = %key.name, ?cause, "unloaded function code");
            })
            .build();
        CodeCache { cache, evictions }
    }

    /// The loaded function for `key`, loading it with `load` if cold; concurrent callers share one load.
    pub(crate) async fn get_or_load<F>(&self, key: &CodeKey, load: F) -> Result<Arc<Warm>>
    where
        F: Future<Output = Result<Warm>>,
    {
        if let Some(warm) = self.cache.get(key).await {
            return Ok(warm);
        }
        self.cache
            .try_get_with_by_ref(key, async { load.await.map(Arc::new) })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())
    }

    /// The loaded function for `key` if warm; counts as use (renews its idle timer).
    pub(crate) async fn touch(&self, key: &CodeKey) -> Option<Arc<Warm>> {
        self.cache.get(key).await
    }

    /// Whether `key` is loaded, without counting as use.
    pub(crate) fn is_warm(&self, key: &CodeKey) -> bool {
        self.cache.contains_key(key)
    }

    /// Drops `key`'s loaded state (replace, delete).
    pub(crate) async fn remove(&self, key: &CodeKey) {
        self.cache.invalidate(key).await;
    }

    /// Bytes of code currently loaded.
    pub(crate) fn loaded_bytes(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Number of functions currently loaded.
    pub(crate) fn loaded_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Eviction counters.
    pub(crate) fn evictions(&self) -> &Arc<Evictions> {
        &self.evictions
    }

    /// Applies pending expirations and evictions so memory is actually released.
    pub(crate) async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks().await;
    }
}
