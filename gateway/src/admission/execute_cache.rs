//! The cached `execute` decision of one deployed version: a warm call reads one atomic.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Until when (and under which policy generation) the last `allow` holds.
#[derive(Debug, Default)]
pub struct ExecuteCache {
    /// Milliseconds since [`epoch`] until which the decision holds; 0 = never decided.
    until_ms: AtomicU64,
    /// The policy generation the decision was made under.
    generation: AtomicU64,
}

/// A process-wide monotonic origin, so a deadline fits in one atomic.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl ExecuteCache {
    /// Whether an `allow` made under `generation` still holds.
    pub fn is_fresh(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
            && now_ms() < self.until_ms.load(Ordering::Acquire)
    }

    /// Records an `allow` under `generation`, good for `ttl`.
    pub fn remember(&self, generation: u64, ttl: Duration) {
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.generation.store(generation, Ordering::Release);
        self.until_ms
            .store(now_ms().saturating_add(ttl), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_holds_for_its_generation_only() {
        let cache = ExecuteCache::default();
        assert!(!cache.is_fresh(0), "never decided");
        cache.remember(3, Duration::from_secs(60));
        assert!(cache.is_fresh(3));
        assert!(!cache.is_fresh(4), "a policy reload invalidates it");
    }

    #[test]
    fn a_zero_ttl_never_holds() {
        let cache = ExecuteCache::default();
        cache.remember(1, Duration::ZERO);
        assert!(!cache.is_fresh(1));
    }
}
