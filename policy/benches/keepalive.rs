//! What keep-alive costs the node: the per-call update of a function's [`Pattern`] (every call
//! pays it), [`Residency::admit`] among 1,000 residents under a full budget (a cold start
//! pays it when memory is short), and a known function's windows (the housekeeping tick pays it
//! once for each function whose calls ended since the last tick).

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use wasmgate_policy::{Footprint, KeepAlivePolicy, LayerCost, Pattern, Residency, Usage};

fn footprint(i: u64) -> Footprint {
    let layer = |bytes: u64, micros: u64| LayerCost {
        bytes,
        restore: Duration::from_micros(micros),
    };
    Footprint {
        code: layer(1_000_000 + i * 1_000, 600),
        linked: layer(64 << 10, 100),
        instances: layer(1 << 20, 100),
    }
}

fn per_call(c: &mut Criterion) {
    let mut pattern = Pattern::default();
    let mut now = Duration::ZERO;
    c.bench_function("Pattern::on_start + on_end", |b| {
        b.iter(|| {
            now += Duration::from_secs(61);
            pattern.on_start(black_box(now));
            pattern.on_end(black_box(now + Duration::from_millis(2)));
        })
    });
}

fn admit(c: &mut Criterion) {
    const RESIDENTS: u64 = 1_000;
    for name in ["adaptive", "fixed:10m"] {
        let Ok(policy) = name.parse::<KeepAlivePolicy>() else {
            continue;
        };
        let full: u64 = (0..RESIDENTS).map(|i| footprint(i).bytes()).sum();
        let mut patterns: Vec<Pattern> = (0..=RESIDENTS).map(|_| Pattern::default()).collect();
        let mut residency = Residency::new(full, policy.eviction());
        for i in 0..RESIDENTS {
            let now = Duration::from_secs(i);
            patterns[i as usize].on_start(now);
            patterns[i as usize].on_end(now);
            residency.admit(i, footprint(i), false, now, |&k| {
                Usage::of(&patterns[k as usize], now)
            });
        }
        let now = Duration::from_secs(RESIDENTS + 1);
        patterns[RESIDENTS as usize].on_start(now);
        c.bench_function(&format!("admit among 1,000 residents, {name}"), |b| {
            b.iter_batched(
                || residency.clone(),
                |mut r| {
                    r.admit(RESIDENTS, footprint(7), false, now, |&k| {
                        Usage::of(&patterns[k as usize], now)
                    })
                },
                BatchSize::SmallInput,
            )
        });
    }
}

fn windows(c: &mut Criterion) {
    // A function with a full histogram: idle times spread over the four hours.
    let mut pattern = Pattern::default();
    let mut now = Duration::ZERO;
    for i in 0..2_000u64 {
        now += Duration::from_secs(1 + (i * 7_919) % 14_000);
        pattern.on_start(now);
        pattern.on_end(now + Duration::from_millis(2));
    }
    let fallback = Duration::from_secs(300);
    for name in ["adaptive", "hybrid"] {
        let Ok(policy) = name.parse::<KeepAlivePolicy>() else {
            continue;
        };
        c.bench_function(&format!("windows of a known function, {name}"), |b| {
            b.iter(|| policy.windows(black_box(&pattern), fallback, black_box(36 << 20)))
        });
    }
}

criterion_group!(benches, per_call, admit, windows);
criterion_main!(benches);
