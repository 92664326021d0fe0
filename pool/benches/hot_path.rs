//! The hot path in process: a cold start from an artifact on disk, and a warm call, of the hello guest.
//!
//! `cargo bench -p wasmgate-pool --bench hot_path`

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty};
use wasmgate_config::{CapabilitySet, FunctionDefaults, Manifest, PoolSettings};
use wasmgate_pool::{Function, FunctionSpec, Pool};

fn request() -> http::Request<Empty<Bytes>> {
    http::Request::get("http://localhost/")
        .body(Empty::new())
        .expect("static request is valid")
}

async fn call(function: &Function) {
    let response = function.call(request()).await.expect("hello answers");
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.expect("body streams");
    assert!(!body.to_bytes().is_empty());
}

fn hot_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = PoolSettings::default();
    let module = std::fs::read(wasmgate_tests::guests::HTTP_HELLO).expect("hello guest is built");
    let function = runtime.block_on(async {
        let pool = Pool::open(&settings, dir.path()).expect("pool opens");
        let compiled = pool
            .compile(&module, CapabilitySet::NONE)
            .expect("hello compiles");
        pool.function(FunctionSpec {
            name: "hello".into(),
            artifact: compiled.artifact,
            artifact_size: compiled.artifact_size,
            grants: CapabilitySet::NONE,
            on_cold_start: None,
            config: Default::default(),
            kv: wasmgate_capabilities::KvCtx::new(
                std::sync::Arc::new(
                    wasmgate_capabilities::RedbBackend::open(&dir.path().join("kv.redb"))
                        .expect("kv opens"),
                ),
                wasmgate_capabilities::KvScope::new("hello", Vec::<String>::new())
                    .expect("valid scope"),
            ),
            messaging: wasmgate_capabilities::messaging::MessagingCtx::new(std::sync::Arc::new(
                wasmgate_capabilities::messaging::EmbeddedBus::open(dir.path()).expect("bus opens"),
            )),
            egress: wasmgate_capabilities::egress::EgressCtx::new(
                "hello",
                &[],
                &Default::default(),
                &[],
                None,
            ),
            settings: Manifest::default()
                .resolve(&FunctionDefaults::default(), &settings)
                .expect("defaults resolve"),
        })
    });

    let mut group = c.benchmark_group("hello");
    group.bench_function("cold_start_from_disk", |b| {
        b.to_async(&runtime).iter(|| async {
            function.unload().await;
            call(&function).await;
        })
    });
    group.bench_function("warm_call", |b| {
        b.to_async(&runtime).iter(|| call(&function))
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
