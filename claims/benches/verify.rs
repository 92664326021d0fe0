//! How long admission's claims checks take on a realistic component: `verify` (parse, token,
//! signature, hash, times) and `module_hash` alone, on about 100 KiB.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::SystemTime;
use wasmgate_claims::fixtures::component_with_module;
use wasmgate_claims::{SignOptions, SigningKey, module_hash, sign, verify};

/// Size of the data segment, so the whole component is about 100 KiB.
const DATA_LEN: usize = 100 * 1024;

/// A component with one nested core module: a function and a 100 KiB data segment.
fn component() -> Vec<u8> {
    component_with_module(DATA_LEN, None)
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate();
    let now = SystemTime::now();
    let options = SignOptions {
        name: "bench".into(),
        ..SignOptions::default()
    };
    let signed = sign(&component(), &key, &options, now).expect("the bench component signs");
    let trusted = [key.issuer()];
    verify(&signed, &trusted, now).expect("the bench component verifies");

    let mut group = c.benchmark_group("claims_100kib");
    group.throughput(Throughput::Bytes(signed.len() as u64));
    group.bench_function("verify", |b| {
        b.iter(|| verify(black_box(&signed), &trusted, now))
    });
    group.bench_function("module_hash", |b| {
        b.iter(|| module_hash(black_box(&signed)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
