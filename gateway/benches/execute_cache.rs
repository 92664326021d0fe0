//! What a warm call's cached `execute` decision costs: the per-input cache (a hit for a known
//! method and path) against the single per-version decision it replaced (two atomic loads and a
//! clock read), measured in the same run; and the expiry check every call makes.

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};
use wasmgate::admission::{ExecuteCache, Source};

/// The per-version decision before per-input caching, as it was: the baseline.
#[derive(Default)]
struct PerVersion {
    until_ms: AtomicU64,
    generation: AtomicU64,
}

fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl PerVersion {
    fn is_fresh(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
            && now_ms() < self.until_ms.load(Ordering::Acquire)
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("execute_decision_hit");
    let before = PerVersion::default();
    before.generation.store(1, Ordering::Release);
    before.until_ms.store(u64::MAX, Ordering::Release);
    group.bench_function("per_version_before", |b| {
        b.iter(|| assert!(black_box(&before).is_fresh(black_box(1))))
    });
    let cache = ExecuteCache::default();
    let source = Source::Http {
        method: "GET",
        path: "/fn/hello/items/42",
    };
    cache.remember(1, Duration::from_secs(3600), &source);
    group.bench_function("per_input_after", |b| {
        b.iter(|| assert!(black_box(&cache).is_fresh(black_box(1), black_box(&source))))
    });
    group.finish();

    // What every call now pays on top: its claims' expiry against the clock.
    let claims: wasmgate_claims::Claims = serde_json::from_value(serde_json::json!({
        "iss": "issuer", "sub": "hello", "iat": 0, "nbf": 0, "exp": u64::MAX, "jti": "j",
        "wasmgate": { "hash": "00", "caps": [] }
    }))
    .unwrap_or_else(|e| panic!("claims: {e}"));
    c.bench_function("claims_not_expired", |b| {
        b.iter(|| {
            assert!(wasmgate::admission::not_expired(black_box(&claims), SystemTime::now()).is_ok())
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
