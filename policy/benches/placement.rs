//! What placing one call costs: `Placement::home` for a function among 3 and 20 members (the
//! decision every call makes in cluster mode before it is served or forwarded).

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wasmgate_policy::{Member, MemberState, Memory, Placement};

fn members(n: usize, load: f64) -> Vec<Member> {
    (0..n)
        .map(|i| Member {
            id: format!("wasmgate-{i}"),
            load,
            state: MemberState::Ready,
            memory: Memory::default(),
        })
        .collect()
}

fn home(c: &mut Criterion) {
    let rule = Placement {
        balance_factor: 1.25,
        node_capacity: 64.0,
    };
    for (n, load) in [(3, 1.0), (20, 40.0)] {
        let view = members(n, load);
        c.bench_function(&format!("home, {n} members"), |b| {
            b.iter(|| rule.home(black_box("resize-image"), black_box(&view)))
        });
    }
}

criterion_group!(benches, home);
criterion_main!(benches);
