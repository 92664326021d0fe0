use crate::harness::{TestPool, call, get};
use bytes::Bytes;
use http_body_util::Full;
use wasmgate_config::CapabilitySet;
use wasmgate_pool::Error;
use wasmgate_tests::guests;

crate::harness::covers!(http_echo, http_hello);

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
