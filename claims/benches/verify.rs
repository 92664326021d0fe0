//! How long admission's claims checks take on a realistic component: `verify` (parse, token,
//! signature, hash, times) and `module_hash` alone, on about 100 KiB.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::SystemTime;
use wasm_encoder::{
    CodeSection, Component, ConstExpr, DataSection, ExportKind, ExportSection, Function,
    FunctionSection, MemorySection, MemoryType, Module, ModuleSection, TypeSection, ValType,
};
use wasmgate_claims::{SignOptions, SigningKey, module_hash, sign, verify};

/// Size of the data segment, so the whole component is about 100 KiB.
const DATA_LEN: usize = 100 * 1024;

/// A component with one nested core module: a function and a 100 KiB data segment.
fn component() -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 2,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut run = Function::new([]);
    run.instructions().local_get(0).i32_const(3).i32_mul().end();
    code.function(&run);
    module.section(&code);
    let mut data = DataSection::new();
    data.active(
        0,
        &ConstExpr::i32_const(0),
        (0..DATA_LEN).map(|i| (i * 131 % 251) as u8),
    );
    module.section(&data);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
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
