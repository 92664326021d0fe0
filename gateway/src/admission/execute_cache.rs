//! The cached `execute` decisions of one deployed version, one per distinct policy input: the
//! source kind with the method and path of an HTTP call, or the subject of an event. A policy that
//! looks at the path or method is asked once for each new input, never answered from a decision
//! made for another one; a warm call with a known input reads one cache entry.

use super::input::Source;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// Distinct inputs remembered per deployed version; past it the least useful are evicted
/// (moka's TinyLFU) and asked again when they come back. Bounds what a client calling endless
/// distinct paths can make the node hold: about 100 bytes per entry plus the path.
pub const MAX_INPUTS: u64 = 1024;

/// An `allow`, with the input it was given for.
#[derive(Debug)]
struct Allowed {
    /// The policy generation it was made under.
    generation: u64,
    /// Milliseconds since [`epoch`] until which it holds.
    until_ms: u64,
    /// The input, compared in full on a hit, so a hash collision never borrows a decision.
    kind: u8,
    first: Box<str>,
    second: Box<str>,
}

/// The `allow` decisions of one deployed version, by input.
pub struct ExecuteCache {
    decisions: moka::sync::Cache<u64, Arc<Allowed>>,
}

impl Default for ExecuteCache {
    fn default() -> Self {
        ExecuteCache {
            decisions: moka::sync::Cache::builder()
                .max_capacity(MAX_INPUTS)
                .build(),
        }
    }
}

impl std::fmt::Debug for ExecuteCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecuteCache")
            .field("inputs", &self.decisions.entry_count())
            .finish()
    }
}

/// A process-wide monotonic origin, so a deadline fits in a `u64`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// `source` as (kind, first, second): HTTP (method, path), event (subject, ""), admin ("", "").
fn parts<'a>(source: &Source<'a>) -> (u8, &'a str, &'a str) {
    match *source {
        Source::AdminApi => (0, "", ""),
        Source::Event { subject } => (1, subject, ""),
        Source::Http { method, path } => (2, method, path),
    }
}

fn key(parts: (u8, &str, &str)) -> u64 {
    let mut hasher = DefaultHasher::new();
    parts.hash(&mut hasher);
    hasher.finish()
}

impl ExecuteCache {
    /// Whether an `allow` for exactly `source`, made under `generation`, still holds.
    pub fn is_fresh(&self, generation: u64, source: &Source<'_>) -> bool {
        let parts = parts(source);
        let Some(allowed) = self.decisions.get(&key(parts)) else {
            return false;
        };
        allowed.generation == generation
            && now_ms() < allowed.until_ms
            && (allowed.kind, &*allowed.first, &*allowed.second) == parts
    }

    /// Records an `allow` for `source` under `generation`, good for `ttl`.
    pub fn remember(&self, generation: u64, ttl: Duration, source: &Source<'_>) {
        let ttl = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        if ttl == 0 {
            return;
        }
        let parts = parts(source);
        self.decisions.insert(
            key(parts),
            Arc::new(Allowed {
                generation,
                until_ms: now_ms().saturating_add(ttl),
                kind: parts.0,
                first: parts.1.into(),
                second: parts.2.into(),
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GET_OK: Source<'static> = Source::Http {
        method: "GET",
        path: "/ok",
    };

    #[test]
    fn a_decision_holds_for_its_generation_only() {
        let cache = ExecuteCache::default();
        assert!(!cache.is_fresh(0, &GET_OK), "never decided");
        cache.remember(3, Duration::from_secs(60), &GET_OK);
        assert!(cache.is_fresh(3, &GET_OK));
        assert!(
            !cache.is_fresh(4, &GET_OK),
            "a policy reload invalidates it"
        );
    }

    #[test]
    fn a_decision_holds_for_its_own_input_only() {
        let cache = ExecuteCache::default();
        cache.remember(1, Duration::from_secs(60), &GET_OK);
        for other in [
            Source::Http {
                method: "GET",
                path: "/admin",
            },
            Source::Http {
                method: "DELETE",
                path: "/ok",
            },
            Source::Event { subject: "/ok" },
            Source::AdminApi,
        ] {
            assert!(
                !cache.is_fresh(1, &other),
                "{other:?} borrowed GET /ok's allow"
            );
        }
        assert!(cache.is_fresh(1, &GET_OK));
    }

    #[test]
    fn a_zero_ttl_never_holds() {
        let cache = ExecuteCache::default();
        cache.remember(1, Duration::ZERO, &GET_OK);
        assert!(!cache.is_fresh(1, &GET_OK));
    }

    #[test]
    fn endless_distinct_paths_stay_within_the_bound() {
        let cache = ExecuteCache::default();
        for i in 0..(4 * MAX_INPUTS) {
            let path = format!("/items/{i}");
            cache.remember(
                1,
                Duration::from_secs(60),
                &Source::Http {
                    method: "GET",
                    path: &path,
                },
            );
        }
        cache.decisions.run_pending_tasks();
        assert!(cache.decisions.entry_count() <= MAX_INPUTS);
    }
}
