//! Event triggers end to end: `POST /publish` puts a message on the bus, a function subscribed to
//! a matching subject handles it (waking from zero), a refused message is retried and then
//! dead-lettered to a second function; the same on the embedded bus and on a real NATS server.

use crate::error_code;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, NatsServer, guests};

crate::covers!(caps_events, caps_events_only, caps_rr);

/// What the `caps_events` guest is signed for (also by the CloudEvents and schedules suites).
pub(crate) const CAPS: &[Capability] = &[Capability::Keyvalue, Capability::Messaging];

/// Deploys the `caps_events` guest as `name` with `manifest`, signed for [`CAPS`]; panics with the
/// gateway's answer unless it succeeded.
pub(crate) async fn deploy(gw: &Gateway, name: &str, manifest: &str) {
    let response = gw
        .deploy_granted(name, guests::CAPS_EVENTS, CAPS, manifest)
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

async fn publish(gw: &Gateway, subject: &str, body: &str) -> reqwest::Response {
    gw.client()
        .post(gw.url(&format!("/publish/{subject}")))
        .header("content-type", "text/plain")
        .header("ce-specversion", "1.0")
        .header("ce-id", uuid::Uuid::new_v4().to_string())
        .header("ce-source", "/shop")
        .header("ce-type", "order.created")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// What function `name` stored under `key`, once it is there.
async fn stored(gw: &Gateway, name: &str, key: &str) -> String {
    let url = gw.url(&format!("/fn/{name}/{key}"));
    let client = gw.client().clone();
    wasmgate_tests::eventually(
        "the event was handled",
        crate::DEADLINE,
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let response = client.get(url).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        },
        |(status, _)| *status == 200,
    )
    .await
    .unwrap()
    .1
}

async fn suite(gw: &Gateway) {
    deploy(gw, "orders", "[[triggers]]\nsubject = \"orders.*\"\n[keyvalue]\nshared = [\"events\"]\n[scale]\nidle_timeout = \"100ms\"\n").await;
    deploy(
        gw,
        "dlq",
        "[[triggers]]\nsubject = \"wasmgate.dead-letter.>\"\n[messaging]\npublish = [\"orders.*\"]\n",
    )
    .await;

    let response = publish(gw, "orders.created", "order 1").await;
    assert_eq!(response.status(), 202);
    let text = stored(gw, "orders", "orders.created").await;
    assert!(text.starts_with("order 1"), "{text}");
    // The event's attributes, canonical and in order, on every bus.
    assert!(
        text.contains(" ce-specversion=1.0 ce-id=")
            && text.contains(" ce-source=/shop ce-type=order.created"),
        "{text}"
    );

    // Cold again, then woken by the next event.
    wasmgate_tests::eventually(
        "scaled to zero",
        crate::DEADLINE,
        || async { gw.function("orders").await.unwrap()["state"].clone() },
        |s| s == "cold",
    )
    .await
    .unwrap();
    assert_eq!(publish(gw, "orders.paid", "order 2").await.status(), 202);
    assert!(
        stored(gw, "orders", "orders.paid")
            .await
            .starts_with("order 2")
    );

    // Not a matching subject: nothing handled.
    assert_eq!(publish(gw, "invoices.created", "x").await.status(), 202);

    // A refused message: every attempt tried, then dead-lettered with the error.
    assert_eq!(publish(gw, "orders.broken", "fail").await.status(), 202);
    let dead = stored(gw, "dlq", "wasmgate.dead-letter.orders").await;
    assert!(dead.starts_with("fail"), "{dead}");
    assert!(dead.contains("wasmgate-subject=orders.broken"), "{dead}");
    assert!(dead.contains("asked to fail"), "{dead}");
    let tries = stored(gw, "orders", "count/orders.broken").await;
    assert_eq!(tries, "3", "max_attempts = 3");
    assert_eq!(
        gw.client()
            .get(gw.url("/fn/orders/invoices.created"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // A guest publishes through wasi:messaging/producer; the trigger picks it up.
    let response = gw
        .client()
        .post(gw.url("/fn/dlq/send/orders.from-guest"))
        .body("order 3")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "sent");
    let text = stored(gw, "orders", "orders.from-guest").await;
    assert!(text.starts_with("order 3"), "{text}");

    // Bad subjects are refused.
    let response = publish(gw, "orders..x", "x").await;
    assert_eq!(error_code(response).await, (400, "invalid_subject".into()));
}

const EVENTS: &str = "[events]\nmax_attempts = 3\nbackoff = \"20ms\"\n";

#[tokio::test]
async fn events_reach_their_functions_on_the_embedded_bus() {
    let gw = Gateway::builder()
        .config_toml(EVENTS)
        .start()
        .await
        .unwrap();
    suite(&gw).await;
}

#[tokio::test]
async fn events_reach_their_functions_over_nats() {
    let nats = NatsServer::start().await.unwrap();
    let config = format!(
        "{EVENTS}[messaging]\nbackend = \"nats\"\nurl = \"{}\"\n",
        nats.url()
    );
    let gw = Gateway::builder()
        .config_toml(&config)
        .start()
        .await
        .unwrap();
    suite(&gw).await;
}

#[tokio::test]
async fn publishing_from_a_guest_needs_the_messaging_grant() {
    let gw = Gateway::builder().start().await.unwrap();
    let bytes = gw
        .sign(guests::CAPS_EVENTS, "events", &[Capability::Keyvalue])
        .unwrap();
    let response = gw.deploy_bytes("events", bytes).await.unwrap();
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (403, "capability_not_granted")
    );
    let interfaces = body["error"]["interfaces"].to_string();
    assert!(
        interfaces.contains("wasi:messaging/producer"),
        "{interfaces}"
    );
}

#[tokio::test]
async fn a_function_may_handle_messages_only() {
    let gw = Gateway::builder().start().await.unwrap();
    let manifest = "[[triggers]]\nsubject = \"jobs.*\"\n[keyvalue]\nshared = [\"events\"]\n";
    let response = gw
        .deploy_granted("consumer", guests::CAPS_EVENTS_ONLY, CAPS, manifest)
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    // A reader sharing the bucket shows what the message-only function stored.
    deploy(&gw, "reader", "[keyvalue]\nshared = [\"events\"]\n").await;
    assert_eq!(publish(&gw, "jobs.one", "work").await.status(), 202);
    assert_eq!(stored(&gw, "reader", "jobs.one").await, "only: work");
    // It has no HTTP handler.
    let response = gw
        .client()
        .get(gw.url("/fn/consumer"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response).await, (404, "no_http_handler".into()));
}

/// A guest asks on the bus; a function triggered by the subject answers through request-reply.
async fn request_reply(gw: &Gateway) {
    for (name, manifest) in [
        ("asker", "[messaging]\npublish = [\"questions.*\"]\n"),
        ("answerer", "[[triggers]]\nsubject = \"questions.*\"\n"),
    ] {
        let response = gw
            .deploy_granted(name, guests::CAPS_RR, &[Capability::Messaging], manifest)
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    }
    let response = gw
        .client()
        .post(gw.url("/fn/asker/ask/questions.ping"))
        .body("ping")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "pong: ping");
    // Nor may it ask on a subject its signed manifest does not list, nor on the host's: no
    // forged dead letter, no answer into another requester's inbox (a guest answers only
    // through reply).
    for (subject, why) in [
        ("orders.ping", "publish"),
        ("wasmgate.dead-letter.answerer", "reserved"),
        ("_INBOX.someone-else", "reserved"),
    ] {
        let response = gw
            .client()
            .post(gw.url(&format!("/fn/asker/ask/{subject}")))
            .body("forged")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 502);
        let text = response.text().await.unwrap();
        assert!(
            text.contains("PermissionDenied") && text.contains(why),
            "{subject}: {text}"
        );
    }
}

#[tokio::test]
async fn publish_refuses_the_hosts_reserved_subjects() {
    let gw = Gateway::builder().start().await.unwrap();
    for reserved in ["wasmgate.dead-letter.orders", "_INBOX.abc.def"] {
        let response = publish(&gw, reserved, "forged").await;
        let (status, code) = error_code(response).await;
        assert_eq!(
            (status, code.as_str()),
            (403, "reserved_subject"),
            "{reserved}"
        );
    }
    // A subject that only looks alike is the client's.
    assert_eq!(
        publish(&gw, "wasmgate-orders.created", "ok").await.status(),
        202
    );
}

#[tokio::test]
async fn guests_request_and_reply_on_the_embedded_bus() {
    let gw = Gateway::builder().start().await.unwrap();
    request_reply(&gw).await;
}

#[tokio::test]
async fn guests_request_and_reply_over_nats() {
    let nats = NatsServer::start().await.unwrap();
    let config = format!(
        "[messaging]\nbackend = \"nats\"\nurl = \"{}\"\n",
        nats.url()
    );
    let gw = Gateway::builder()
        .config_toml(&config)
        .start()
        .await
        .unwrap();
    request_reply(&gw).await;
}
