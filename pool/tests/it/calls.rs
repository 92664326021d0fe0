use crate::harness::{TestPool, call, get};
use bytes::Bytes;
use http_body_util::Full;
use wasmgate_config::CapabilitySet;
use wasmgate_pool::Error;
use wasmgate_tests::guests;

crate::harness::covers!(http_cut, http_echo, http_hello, http_log, http_wasi_cases);

#[tokio::test]
async fn hello_answers_and_the_function_becomes_warm() {
    let pool = TestPool::new();
    let hello = pool.deploy("hello", guests::HTTP_HELLO, "");
    assert!(!hello.stats().warm);
    let (status, body) = call(&hello, get("/")).await;
    assert_eq!(status, 200);
    assert_eq!(body, "hello from wasmgate\n");
    let stats = hello.stats();
    assert!(stats.warm);
    assert_eq!(stats.cold_starts, 1);
}

#[tokio::test]
async fn the_guest_sees_method_path_headers_and_body() {
    let pool = TestPool::new();
    let echo = pool.deploy("echo", guests::HTTP_ECHO, "");
    let req = http::Request::post("http://localhost/a/b?x=1")
        .header("x-test", "yes")
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let (status, body) = call(&echo, req).await;
    assert_eq!(status, 200);
    let echoed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path_with_query"], "/a/b?x=1");
    assert_eq!(echoed["headers"]["x-test"], "yes");
    assert_eq!(echoed["body"], "payload");
}

#[tokio::test]
async fn a_body_shorter_or_longer_than_its_content_length_never_ends_as_complete() {
    use http_body_util::BodyExt;
    let pool = TestPool::new();
    let cut = pool.deploy("cut", guests::HTTP_CUT, "");
    for query in ["declare=100&write=5", "declare=5&write=100"] {
        let req = http::Request::get(format!("http://localhost/?{query}"))
            .body(Full::new(Bytes::new()))
            .unwrap();
        let outcome = match cut.call(req).await {
            Ok(response) => response.into_body().collect().await.map(|_| ()),
            Err(e) => Err(e),
        };
        assert!(
            matches!(outcome, Err(Error::ResponseLength { .. })),
            "{query}: {outcome:?}"
        );
    }
}

#[tokio::test]
async fn a_guest_returning_without_a_response_is_an_error_not_an_empty_answer() {
    let pool = TestPool::new();
    let cases = pool.deploy("cases", guests::HTTP_WASI_CASES, "");
    let req = http::Request::get("http://localhost/no-response")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let outcome = cases.call(req).await;
    assert!(
        matches!(outcome, Err(Error::NoResponse { .. })),
        "{:?}",
        outcome.map(|r| r.status())
    );
}

#[tokio::test]
async fn a_core_module_and_garbage_are_refused_as_invalid_components() {
    let pool = TestPool::new();
    // The smallest valid core module: header only.
    let core = b"\0asm\x01\0\0\0";
    assert!(matches!(
        pool.pool.compile(core, CapabilitySet::NONE),
        Err(Error::InvalidComponent { .. })
    ));
    assert!(matches!(
        pool.pool.compile(b"not wasm at all", CapabilitySet::NONE),
        Err(Error::InvalidComponent { .. })
    ));
}

#[tokio::test]
async fn guest_output_past_the_rate_limit_is_dropped_and_counted() {
    let pool = TestPool::new();
    let log = pool.deploy("log", guests::HTTP_LOG, "");
    let (status, body) = call(&log, get("/")).await;
    assert_eq!((status, body.as_str()), (200, "logged\n"));
    assert_eq!(log.stats().log_lines_dropped, 0);
    let (status, _) = call(&log, get("/?n=1000")).await;
    assert_eq!(status, 200);
    let dropped = log.stats().log_lines_dropped;
    // 1,008 lines in all (4 per call, plus the 1,000) against a burst of 200, plus whatever
    // refilled meanwhile.
    assert!((700..=808).contains(&dropped), "dropped {dropped}");
}

#[tokio::test]
async fn an_ungranted_capability_import_is_refused_and_a_network_one_is_linked() {
    use wasmgate_config::Capability;
    let pool = TestPool::new();
    let module = std::fs::read(guests::CAPS_KV).unwrap();
    match pool.pool.compile(&module, CapabilitySet::NONE) {
        Err(Error::NotGranted { interfaces }) => {
            assert!(!interfaces.is_empty());
            assert!(
                interfaces.iter().all(|i| i.starts_with("wasi:keyvalue/")),
                "{interfaces:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    let grants: CapabilitySet = [Capability::Keyvalue].into_iter().collect();
    assert!(pool.pool.compile(&module, grants).is_ok());
    // The outgoing handler links without its grant (every destination is denied at run time).
    let fetch = std::fs::read(guests::CAPS_FETCH).unwrap();
    assert!(pool.pool.compile(&fetch, CapabilitySet::NONE).is_ok());
}

#[tokio::test]
async fn cold_starts_are_reported_and_memory_held_accrues_while_warm() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pool = TestPool::new();
    let module = std::fs::read(guests::HTTP_HELLO).unwrap();
    let compiled = pool.pool.compile(&module, CapabilitySet::NONE).unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    let hello = pool.pool.function(wasmgate_pool::FunctionSpec {
        name: "hello".into(),
        artifact: compiled.artifact,
        artifact_size: compiled.artifact_size,
        grants: CapabilitySet::NONE,
        on_cold_start: Some(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::Relaxed);
        })),
        config: Default::default(),
        kv: pool.kv_for("hello"),
        messaging: wasmgate_capabilities::messaging::MessagingCtx::new(pool.bus.clone()),
        egress: wasmgate_capabilities::egress::EgressCtx::new(
            "hello",
            &[],
            &Default::default(),
            &[],
            None,
        ),
        settings: wasmgate_config::Manifest::default()
            .resolve(
                &wasmgate_config::FunctionDefaults::default(),
                &pool.settings,
            )
            .unwrap(),
    });
    let before = hello.stats().cost;
    assert_eq!(before.memory_byte_seconds, 0.0);
    assert_eq!(before.last_cold_start, None, "nothing loaded yet");
    call(&hello, get("/")).await;
    call(&hello, get("/")).await;
    assert_eq!(seen.load(Ordering::Relaxed), 1);
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let cost = hello.stats().cost;
    let floor = compiled.artifact_size as f64 * 0.05;
    assert!(
        cost.memory_byte_seconds >= floor,
        "{} < {floor}",
        cost.memory_byte_seconds
    );
    // Between calls only the code is held; while they ran, their instances too.
    assert_eq!(cost.bytes_held, compiled.artifact_size, "{cost:?}");
    assert!(cost.busy_byte_seconds > 0.0, "{cost:?}");
    assert!(
        cost.busy_byte_seconds < cost.memory_byte_seconds,
        "{cost:?}"
    );
    // hello's linear memory (at least one 64 KiB page) and its tables, counted by the limiter.
    assert!(cost.instance_peak_bytes >= 65536, "{cost:?}");
    assert!(cost.guest_cpu > std::time::Duration::ZERO, "{cost:?}");
    let phases = cost
        .last_cold_start
        .expect("the first call measured the cold start");
    for (phase, took) in [
        ("load", phases.load),
        ("link", phases.link),
        ("instantiate", phases.instantiate),
        ("first response", phases.first_response),
    ] {
        assert!(took > std::time::Duration::ZERO, "{phase}: {phases:?}");
    }
    hello.unload().await;
    call(&hello, get("/")).await;
    assert_eq!(seen.load(Ordering::Relaxed), 2);
    let again = hello.stats().cost.last_cold_start.expect("measured again");
    assert_ne!(again, phases, "the second cold start is measured anew");
}

#[tokio::test]
async fn an_adopted_artifact_is_checked_as_a_compile_is_and_nothing_is_stored_when_it_fails() {
    use wasmgate_config::Capability;
    // Another node with the same engine settings compiled it.
    let peer = TestPool::new();
    let module = std::fs::read(guests::CAPS_KV).unwrap();
    let kv: CapabilitySet = [Capability::Keyvalue].into_iter().collect();
    let compiled = peer.pool.compile(&module, kv).unwrap();
    let bytes = peer.pool.artifact_bytes(&compiled.artifact).unwrap();
    let here = TestPool::new();
    assert_eq!(
        here.pool.engine_fingerprint(),
        peer.pool.engine_fingerprint()
    );
    // Grants are this node's: the key-value import is refused without them, and nothing stays.
    match here.pool.adopt_artifact(&bytes, CapabilitySet::NONE) {
        Err(Error::NotGranted { interfaces }) => assert!(!interfaces.is_empty()),
        other => panic!("{other:?}"),
    }
    assert_eq!(here.pool.artifacts_total_bytes().unwrap(), 0);
    // Bytes that are not an artifact of this engine are refused the same way.
    match here.pool.adopt_artifact(&module, kv) {
        Err(Error::InvalidComponent { reason }) => {
            assert!(reason.contains("does not load"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(here.pool.artifacts_total_bytes().unwrap(), 0);
    // With its grants it is stored under the same digest and serves.
    let adopted = here.pool.adopt_artifact(&bytes, kv).unwrap();
    assert_eq!(adopted, compiled.artifact);
    assert_eq!(
        here.pool.artifacts_total_bytes().unwrap(),
        bytes.len() as u64
    );
}
