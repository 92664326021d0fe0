//! The node's cache of loaded functions: single-flight cold starts, idle expiry, a byte budget.

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::warm::Warm;
use moka::future::Cache;
use moka::notification::RemovalCause;
use moka::ops::compute::{CompResult, Op};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

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
/// function is evicted (or never admitted) before a busy one. Idle expiry is not moka's: an entry
/// must not expire while calls run on it, so [`CodeCache::expire_idle`] decides from each
/// function's own in-flight count and last activity.
pub(crate) struct CodeCache {
    cache: Cache<CodeKey, Arc<Warm>>,
    evictions: Arc<Evictions>,
}

impl CodeCache {
    /// A cache holding at most `budget` bytes of loaded code.
    pub(crate) fn new(budget: u64) -> Self {
        let evictions = Arc::new(Evictions::default());
        let counts = evictions.clone();
        let cache = Cache::builder()
            .max_capacity(budget)
            .weigher(|_, warm: &Arc<Warm>| u32::try_from(warm.code_bytes).unwrap_or(u32::MAX))
            .eviction_listener(move |key: Arc<CodeKey>, _, cause| {
                // Idle and explicit removals are counted where they are decided.
                if cause == RemovalCause::Size {
                    counts.budget.fetch_add(1, Ordering::Relaxed);
                }
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

    /// Whether `key` is loaded, without counting as use.
    pub(crate) fn is_warm(&self, key: &CodeKey) -> bool {
        self.cache.contains_key(key)
    }

    /// Drops `key`'s loaded state (replace, delete).
    pub(crate) async fn remove(&self, key: &CodeKey) {
        if self.cache.remove(key).await.is_some() {
            self.evictions.removed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops every loaded function with no call in flight and no activity for its idle timeout.
    pub(crate) async fn expire_idle(&self) {
        let now = Instant::now();
        let idle: Vec<Arc<CodeKey>> = self
            .cache
            .iter()
            .filter(|(_, warm)| warm.is_idle(now))
            .map(|(key, _)| key)
            .collect();
        for key in idle {
            // Re-checked under the entry's lock: a call may have started since the scan.
            let result = self
                .cache
                .entry_by_ref(key.as_ref())
                .and_compute_with(|entry| async move {
                    match entry {
                        Some(entry) if entry.value().is_idle(Instant::now()) => Op::Remove,
                        _ => Op::Nop,
                    }
                })
                .await;
            if matches!(result, CompResult::Removed(_)) {
                self.evictions.idle.fetch_add(1, Ordering::Relaxed);
            }
        }
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
