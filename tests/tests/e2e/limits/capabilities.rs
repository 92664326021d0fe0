//! Hostile use of capabilities through the real binary: a guest publishing in a loop and one
//! opening buckets in a loop, each stopped at its per-call limit while a neighbour keeps
//! answering.

use crate::error_code;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

crate::covers!(limits_publish_loop, limits_kv_buckets);

async fn hello_answers(gw: &Gateway) {
    let response = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

async fn deploy(gw: &Gateway, name: &str, wasm: &str, caps: &[Capability], manifest: &str) {
    let response = gw.deploy_granted(name, wasm, caps, manifest).await.unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

#[tokio::test]
async fn a_publishing_loop_gets_exactly_its_message_limit_onto_the_bus_then_times_out() {
    let gw = Gateway::builder().start().await.unwrap();
    // Counts every message on `flood` it is handed (the caps_events guest).
    deploy(
        &gw,
        "counter",
        guests::CAPS_EVENTS,
        &[Capability::Keyvalue, Capability::Messaging],
        "[[triggers]]\nsubject = \"flood\"\n",
    )
    .await;
    deploy(
        &gw,
        "flooder",
        guests::LIMITS_PUBLISH_LOOP,
        &[Capability::Messaging],
        "[limits]\nmax_messages_per_call = 25\ntimeout = \"2s\"\n[messaging]\npublish = [\"flood\"]\n",
    )
    .await;
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    let flooding = tokio::spawn(gw.client().get(gw.url("/fn/flooder")).send());
    hello_answers(&gw).await;
    let response = flooding.await.unwrap().unwrap();
    assert_eq!(error_code(response).await, (504, "timeout".into()));
    hello_answers(&gw).await;

    // The guest is gone, so what the bus accepted from it is final.
    let metrics = gw.metrics().await.unwrap();
    for line in [
        "wasmgate_messages_total{direction=\"published\"} 25",
        "wasmgate_guest_limits_total{function=\"flooder\",limit=\"messages_per_call\"} 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in {metrics}");
    }
    let url = gw.url("/fn/counter/count/flood");
    let client = gw.client().clone();
    wasmgate_tests::eventually(
        "the subscriber got every accepted message",
        crate::DEADLINE,
        || {
            let (client, url) = (client.clone(), url.clone());
            async move { client.get(url).send().await.unwrap().text().await.unwrap() }
        },
        |count| count == "25",
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn opening_buckets_in_a_loop_stops_at_the_limit_with_an_error_naming_it() {
    let gw = Gateway::builder().start().await.unwrap();
    let kv = &[Capability::Keyvalue];
    deploy(
        &gw,
        "hoarder",
        guests::LIMITS_KV_BUCKETS,
        kv,
        "[limits]\nmax_open_buckets = 12",
    )
    .await;
    deploy(&gw, "defaulted", guests::LIMITS_KV_BUCKETS, kv, "").await;
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    let answer = |name: &str| {
        let request = gw.client().get(gw.url(&format!("/fn/{name}"))).send();
        async move {
            let response = request.await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    let text = answer("hoarder").await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "opened 12", "{text}");
    assert!(
        lines[1].contains("too many open buckets")
            && lines[1].contains("at most 12 (limits.max_open_buckets)"),
        "{text}"
    );
    assert!(lines[2].contains("value of 1048577 bytes"), "{text}");
    assert!(lines[3].contains("key of 1025 bytes"), "{text}");
    hello_answers(&gw).await;

    let text = answer("defaulted").await;
    assert!(
        text.starts_with("opened 100\n"),
        "the default limit: {text}"
    );

    let metrics = gw.metrics().await.unwrap();
    let line = "wasmgate_guest_limits_total{function=\"hoarder\",limit=\"open_buckets\"} 1";
    assert!(metrics.lines().any(|l| l == line), "{metrics}");
    hello_answers(&gw).await;
}
