//! Where a cold start's time and a warm function's memory go, per layer, for a small Rust
//! component and the JavaScript (componentize-js) and Python (componentize-py) conformance
//! guests built by the test build.
//!
//! `cargo bench -p wasmgate-pool --bench cold_start -- [ROUNDS] [--json FILE]` (what
//! `scripts/bench-coldstart` runs). Each round drops the function's loaded code, calls it once
//! (a cold start), then calls it warm. Printed per kind, medians over the rounds:
//!
//! - cold-start phases as the pool measures them (`FunctionStats::cost.last_cold_start`):
//!   load (map the artifact), link (`instantiate_pre`), instantiate (first instance), first
//!   response (guest start-up and first touch of memory pages), and a warm call for comparison;
//! - bytes per layer: **code** (the mapped artifact), **linked** (heap the loaded state keeps:
//!   component metadata plus the linked `InstancePre`, measured by this binary's counting
//!   allocator across a cold start, after the call's instance is gone), **instance** (linear
//!   memories and tables of one instance, as the pool's limiter counts them), and the process's
//!   resident anonymous and file-backed memory added by one cold start (`/proc/self/status`).

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use wasmgate_config::{CapabilitySet, FunctionDefaults, Manifest, PoolSettings};
use wasmgate_pool::{Function, FunctionSpec, Pool};

/// Counts the bytes the process's heap holds, so the loaded state's heap can be measured.
struct Counting;

static LIVE_HEAP: AtomicI64 = AtomicI64::new(0);

// SAFETY: every method forwards to the system allocator unchanged and only adds bookkeeping.
#[expect(
    unsafe_code,
    reason = "a counting global allocator is the only way to see heap held by wasmtime"
)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE_HEAP.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE_HEAP.fetch_sub(layout.size() as i64, Ordering::Relaxed);
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE_HEAP.fetch_add(layout.size() as i64, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE_HEAP.fetch_add(new_size as i64 - layout.size() as i64, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Resident anonymous and file-backed bytes of this process.
fn resident() -> (i64, i64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<i64>()
                    .ok()
            })
            .map_or(0, |kib| kib * 1024)
    };
    (field("RssAnon:"), field("RssFile:"))
}

fn request() -> http::Request<Empty<Bytes>> {
    http::Request::get("http://localhost/")
        .body(Empty::new())
        .expect("static request is valid")
}

async fn call(function: &Function) {
    let response = function.call(request()).await.expect("the guest answers");
    assert_eq!(response.status(), 200);
    response.into_body().collect().await.expect("body streams");
}

fn median<T: Copy + PartialOrd>(mut values: Vec<T>) -> T {
    values.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

struct Measured {
    kind: &'static str,
    component_bytes: u64,
    code_bytes: u64,
    load: Duration,
    link: Duration,
    instantiate: Duration,
    first_response: Duration,
    cold_total: Duration,
    cold_p99: Duration,
    warm: Duration,
    linked_heap: i64,
    instance_bytes: u64,
    rss_anon: i64,
    rss_file: i64,
}

async fn measure(
    pool: &Pool,
    dir: &std::path::Path,
    kind: &'static str,
    path: &str,
    rounds: usize,
) -> Measured {
    let module = std::fs::read(path).unwrap_or_else(|e| panic!("{kind} guest at {path}: {e}"));
    let compiled = pool
        .compile(&module, CapabilitySet::NONE)
        .unwrap_or_else(|e| panic!("{kind} compiles: {e}"));
    let settings = PoolSettings::default();
    let function = pool.function(FunctionSpec {
        name: kind.into(),
        artifact: compiled.artifact,
        artifact_size: compiled.artifact_size,
        grants: CapabilitySet::NONE,
        on_cold_start: None,
        config: Default::default(),
        kv: wasmgate_capabilities::KvCtx::new(
            std::sync::Arc::new(
                wasmgate_capabilities::RedbBackend::open(&dir.join(format!("{kind}.redb")))
                    .expect("kv opens"),
            ),
            wasmgate_capabilities::KvScope::new(kind, Vec::<String>::new()).expect("valid scope"),
        ),
        messaging: wasmgate_capabilities::messaging::MessagingCtx::new(std::sync::Arc::new(
            wasmgate_capabilities::messaging::EmbeddedBus::open(dir.join(kind)).expect("bus opens"),
        )),
        egress: wasmgate_capabilities::egress::EgressCtx::new(
            kind,
            &[],
            &Default::default(),
            &[],
            None,
        ),
        settings: Manifest::default()
            .resolve(&FunctionDefaults::default(), &settings)
            .expect("defaults resolve"),
    });
    // One cold start first, so the artifact's pages are in the page cache as on a serving node.
    call(&function).await;
    let (mut load, mut link, mut instantiate, mut first, mut total) =
        (vec![], vec![], vec![], vec![], vec![]);
    let (mut heap, mut anon, mut file, mut warm) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        function.unload().await;
        pool.run_pending_tasks().await;
        assert!(!function.is_warm());
        let heap_before = LIVE_HEAP.load(Ordering::Relaxed);
        let (anon_before, file_before) = resident();
        call(&function).await;
        let phases = function
            .stats()
            .cost
            .last_cold_start
            .expect("a cold start was measured");
        heap.push(LIVE_HEAP.load(Ordering::Relaxed) - heap_before);
        let (anon_after, file_after) = resident();
        anon.push(anon_after - anon_before);
        file.push(file_after - file_before);
        load.push(phases.load);
        link.push(phases.link);
        instantiate.push(phases.instantiate);
        first.push(phases.first_response);
        total.push(phases.total());
        let started = Instant::now();
        call(&function).await;
        warm.push(started.elapsed());
    }
    let mut sorted = total.clone();
    sorted.sort();
    let p99 = sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)];
    Measured {
        kind,
        component_bytes: module.len() as u64,
        code_bytes: compiled.artifact_size,
        load: median(load),
        link: median(link),
        instantiate: median(instantiate),
        first_response: median(first),
        cold_total: median(total),
        cold_p99: p99,
        warm: median(warm),
        linked_heap: median(heap),
        instance_bytes: function.stats().cost.instance_peak_bytes,
        rss_anon: median(anon),
        rss_file: median(file),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(30)
        .max(1);
    let json_out = args
        .iter()
        .position(|a| a == "--json")
        .and_then(|i| args.get(i + 1).cloned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let kinds = [
        ("rust", wasmgate_tests::guests::CONF_RUST),
        ("js", wasmgate_tests::guests::CONF_JS),
        ("python", wasmgate_tests::guests::CONF_PYTHON),
    ];
    let measured: Vec<Measured> = runtime.block_on(async {
        let pool = Pool::open(&PoolSettings::default(), dir.path()).expect("pool opens");
        let mut all = Vec::new();
        for (kind, path) in kinds {
            all.push(measure(&pool, dir.path(), kind, path, rounds).await);
        }
        all
    });
    println!("cold starts and warm memory, medians of {rounds} rounds");
    println!(
        "| kind | component | code (mapped artifact) | linked (heap) | instance (memories + tables) | RSS anon / file per cold start | load | link | instantiate | first response | cold start p50 | cold start p99 | warm call |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for m in &measured {
        println!(
            "| {} | {:.2} MiB | {:.2} MiB | {:.3} MiB | {:.2} MiB | {:.2} / {:.2} MiB | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} ms | {:.2} ms | {:.3} ms |",
            m.kind,
            mib(m.component_bytes as i64),
            mib(m.code_bytes as i64),
            mib(m.linked_heap),
            mib(m.instance_bytes as i64),
            mib(m.rss_anon),
            mib(m.rss_file),
            ms(m.load),
            ms(m.link),
            ms(m.instantiate),
            ms(m.first_response),
            ms(m.cold_total),
            ms(m.cold_p99),
            ms(m.warm),
        );
    }
    if let Some(path) = json_out {
        let kinds: serde_json::Map<String, serde_json::Value> = measured
            .iter()
            .map(|m| {
                (
                    m.kind.to_owned(),
                    serde_json::json!({
                        "code_bytes": m.code_bytes,
                        "linked_bytes": m.linked_heap.max(0),
                        "instance_bytes": m.instance_bytes,
                        "cold_start_ms": ms(m.cold_total),
                        "warm_ms": ms(m.warm),
                        "phases_ms": {
                            "load": ms(m.load),
                            "link": ms(m.link),
                            "instantiate": ms(m.instantiate),
                            "first_response": ms(m.first_response),
                        },
                    }),
                )
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::Value::Object(kinds))
            .expect("plain JSON values");
        std::fs::write(&path, text + "\n").unwrap_or_else(|e| panic!("writing {path}: {e}"));
        println!("wrote {path}");
    }
}
