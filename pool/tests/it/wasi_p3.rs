//! WASI 0.3 components in process: compiled with their release named, linked against the 0.3
//! interfaces, called fresh or from a pre-instantiated instance, limits as for 0.2.

use crate::harness::{TestPool, call, eventually, get};
use bytes::Bytes;
use http_body_util::Full;
use std::time::Duration;
use wasmgate_config::{CapabilitySet, WasiVersion};
use wasmgate_pool::Error;
use wasmgate_tests::guests;

crate::harness::covers!(http_p3);

fn post(path: &str, body: &'static str) -> http::Request<Full<Bytes>> {
    http::Request::post(format!("http://localhost{path}"))
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn a_wasi_03_component_compiles_with_its_release_named_and_echoes() {
    let pool = TestPool::new();
    let module = std::fs::read(guests::HTTP_P3).unwrap();
    let compiled = pool.pool.compile(&module, CapabilitySet::NONE).unwrap();
    let wasi = compiled.wasi.unwrap();
    assert_eq!(wasi.version, WasiVersion::P3);
    assert_eq!(wasi.interface, "wasi:http/handler@0.3.0");

    let p3 = pool.deploy("p3", guests::HTTP_P3, "");
    let response = p3.call(post("/", "payload")).await.unwrap();
    assert_eq!(response.headers()["x-wasi"], "0.3");
    let (status, body) = call(&p3, post("/", "payload")).await;
    assert_eq!((status, body.as_str()), (200, "payload"));
    assert_eq!(p3.stats().cold_starts, 1);

    let hello = std::fs::read(guests::HTTP_HELLO).unwrap();
    let compiled = pool.pool.compile(&hello, CapabilitySet::NONE).unwrap();
    assert_eq!(compiled.wasi.unwrap().version, WasiVersion::P2);
}

#[tokio::test]
async fn pre_instantiated_wasi_03_instances_serve_and_are_refilled() {
    let pool = TestPool::new();
    let p3 = pool.deploy("p3", guests::HTTP_P3, "[scale]\nmin_instances = 2");
    p3.start().await.unwrap();
    assert!(eventually(Duration::from_secs(10), || p3.stats().instances == 2).await);
    assert_eq!(call(&p3, post("/", "ready")).await, (200, "ready".into()));
    assert!(eventually(Duration::from_secs(10), || p3.stats().instances == 2).await);
}

#[tokio::test]
async fn a_wasi_03_trap_and_timeout_are_named_like_0_2_ones() {
    let pool = TestPool::new();
    let p3 = pool.deploy("p3", guests::HTTP_P3, "[limits]\ntimeout = \"500ms\"");
    assert!(matches!(
        p3.call(get("/?trap")).await,
        Err(Error::GuestTrap { .. })
    ));
    assert!(matches!(
        p3.call(get("/?spin")).await,
        Err(Error::Timeout { .. })
    ));
    assert!(eventually(Duration::from_secs(10), || p3.stats().instances == 0).await);
}

#[tokio::test]
async fn every_instance_slot_can_hold_a_wasi_03_instance() {
    // spin-sdk 7's 0.3 guests have three core instances each, more than a 0.2 guest's two.
    let settings = wasmgate_config::PoolSettings {
        instances: 3,
        ..Default::default()
    };
    let pool = TestPool::with(settings);
    let p3 = pool.deploy("p3", guests::HTTP_P3, "[limits]\ntimeout = \"1s\"");
    let spins = (0..3).map(|_| p3.call(get("/?spin")));
    for result in futures::future::join_all(spins).await {
        assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    }
}
