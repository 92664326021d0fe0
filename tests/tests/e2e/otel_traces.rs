//! OpenTelemetry traces (`[tracing]`): spans reach a real OTLP/HTTP receiver (this test decodes
//! the protobuf `ExportTraceServiceRequest` itself), continue the caller's `traceparent`, the
//! guest's outgoing request carries the context of its own `http.client` span and its published
//! message that of its `messaging.publish` span, whose delivery continues the trace; a deploy's
//! admission, an async call's run and its callback continue the trace of their requests. Off,
//! the default, neither an outgoing request nor a message carries any trace context.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use wasmgate_claims::SignOptions;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

/// The caller's trace: W3C Trace Context version 00, sampled.
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN: &str = "00f067aa0ba902b7";

/// One span as the receiver decoded it.
#[derive(Debug, Clone)]
struct Seen {
    name: String,
    trace_id: String,
    span_id: String,
    parent: String,
    service: String,
}

/// An HTTP/1.1 server on 127.0.0.1 that records what `record` makes of each request body and
/// headers, answering 200 `ok`.
async fn server<T: Send + 'static>(
    record: impl Fn(&http::HeaderMap, Bytes) -> Vec<T> + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<T>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (store, record) = (seen.clone(), Arc::new(record));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (store, record) = (store.clone(), record.clone());
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (store, record) = (store.clone(), record.clone());
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let items = record(&parts.headers, body);
                        store.lock().unwrap().extend(items);
                        Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (port, seen)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Decodes an OTLP/HTTP protobuf export into its spans.
fn spans(_: &http::HeaderMap, body: Bytes) -> Vec<Seen> {
    let request = ExportTraceServiceRequest::decode(body).unwrap();
    let mut seen = Vec::new();
    for resource in request.resource_spans {
        let service = resource
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| kv.value.as_ref())
            .map(|v| format!("{:?}", v.value))
            .unwrap_or_default();
        for scope in resource.scope_spans {
            for span in scope.spans {
                seen.push(Seen {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent: hex(&span.parent_span_id),
                    service: service.clone(),
                });
            }
        }
    }
    seen
}

/// The `traceparent` header of each request the upstream received (empty when absent).
fn traceparents(headers: &http::HeaderMap, _: Bytes) -> Vec<String> {
    vec![
        headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    ]
}

/// The spans of the caller's trace ([`TRACE_ID`]) the collector has received, once `complete`
/// says they are all there (spans leave in batches about once a second).
async fn spans_of_the_trace(
    exported: &Mutex<Vec<Seen>>,
    what: &str,
    complete: impl Fn(&Vec<Seen>) -> bool,
) -> Vec<Seen> {
    wasmgate_tests::eventually(
        what,
        crate::DEADLINE,
        || async {
            let all = exported.lock().unwrap().clone();
            all.into_iter()
                .filter(|s| s.trace_id == TRACE_ID)
                .collect::<Vec<_>>()
        },
        complete,
    )
    .await
    .unwrap()
}

/// A gateway exporting its spans to the collector on port `collector`, with loopback opened to guests.
async fn traced_gateway(collector: u16) -> Gateway {
    Gateway::builder()
        .config_toml(&format!(
            "[egress]\nallow = [\"127.0.0.0/8\"]\n[tracing]\notlp_endpoint = \"http://127.0.0.1:{collector}/v1/traces\"\n"
        ))
        .start()
        .await
        .unwrap()
}

/// Deploys the `caps_fetch` guest as `fetch`, granted to reach 127.0.0.1.
async fn deploy_fetch(gw: &Gateway) {
    let options = SignOptions {
        caps: vec![Capability::HttpOutgoing],
        allowed_hosts: BTreeMap::from([(
            Capability::HttpOutgoing,
            vec!["127.0.0.1".parse().unwrap()],
        )]),
        ..SignOptions::default()
    };
    let signed = gw.sign_with(guests::CAPS_FETCH, "fetch", options).unwrap();
    let response = gw.deploy_bytes("fetch", signed).await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Calls `fetch` to GET the upstream on `port`, with `traceparent` when given.
async fn fetch(gw: &Gateway, port: u16, traceparent: Option<&str>) {
    let mut request = gw
        .client()
        .get(gw.url(&format!("/fn/fetch?url=http://127.0.0.1:{port}/data")));
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("ok"), "{body}");
}

#[tokio::test]
async fn spans_continue_the_callers_trace_reach_the_collector_and_the_outgoing_request_carries_its_own()
 {
    let (collector, exported) = server(spans).await;
    let (upstream, received) = server(traceparents).await;
    let gw = Gateway::builder()
        .config_toml(&format!(
            "[egress]\nallow = [\"127.0.0.0/8\"]\n[tracing]\notlp_endpoint = \"http://127.0.0.1:{collector}/v1/traces\"\nservice_name = \"wasmgate-test\"\n"
        ))
        .start()
        .await
        .unwrap();
    deploy_fetch(&gw).await;
    fetch(
        &gw,
        upstream,
        Some(&format!("00-{TRACE_ID}-{CALLER_SPAN}-01")),
    )
    .await;

    let ours = spans_of_the_trace(&exported, "the call's spans reach the collector", |spans| {
        ["request", "guest", "cold_start", "http.client"]
            .iter()
            .all(|name| spans.iter().any(|s| s.name == *name))
    })
    .await;
    let by_name = |name: &str| ours.iter().find(|s| s.name == name).unwrap().clone();
    let (request, guest, cold, client) = (
        by_name("request"),
        by_name("guest"),
        by_name("cold_start"),
        by_name("http.client"),
    );
    assert_eq!(
        request.parent, CALLER_SPAN,
        "the caller's span is the parent"
    );
    assert!(request.service.contains("wasmgate-test"), "{request:?}");
    assert_eq!(guest.parent, request.span_id);
    assert_eq!(cold.parent, request.span_id);
    assert_eq!(client.parent, guest.span_id);
    // The upstream saw the http.client span's context, in the caller's trace.
    let sent = received.lock().unwrap().clone();
    assert_eq!(
        sent,
        vec![format!("00-{TRACE_ID}-{}-01", client.span_id)],
        "{ours:?}"
    );

    // A request without a traceparent starts a trace of its own.
    fetch(&gw, upstream, None).await;
    let started = wasmgate_tests::eventually(
        "a new trace reaches the collector",
        crate::DEADLINE,
        || async { received.lock().unwrap().clone() },
        |sent| sent.len() == 2,
    )
    .await
    .unwrap();
    assert!(
        started[1].starts_with("00-") && !started[1].contains(TRACE_ID),
        "{started:?}"
    );
}

#[tokio::test]
async fn a_deploys_admission_an_async_call_and_its_callback_continue_the_callers_trace() {
    let (collector, exported) = server(spans).await;
    let (receiver, received) = server(traceparents).await;
    let gw = traced_gateway(collector).await;
    let caller = format!("00-{TRACE_ID}-{CALLER_SPAN}-01");
    let deployed = gw
        .client()
        .put(gw.url("/functions/hello"))
        .header("content-type", "application/wasm")
        .header("traceparent", &caller)
        .body(gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let accepted = gw
        .client()
        .post(gw.url("/async/hello/"))
        .header("traceparent", &caller)
        .header(
            "x-callback-url",
            format!("http://127.0.0.1:{receiver}/done"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);

    let ours = spans_of_the_trace(&exported, "the deploy's and the call's spans", |spans| {
        ["admission", "async_call", "guest", "http.client"]
            .iter()
            .all(|name| spans.iter().any(|s| s.name == *name))
            && spans.iter().filter(|s| s.name == "request").count() == 2
    })
    .await;
    let by_name = |name: &str| ours.iter().find(|s| s.name == name).unwrap().clone();
    let requests: Vec<&Seen> = ours.iter().filter(|s| s.name == "request").collect();
    assert!(requests.iter().all(|r| r.parent == CALLER_SPAN), "{ours:?}");
    let request_ids: Vec<&str> = requests.iter().map(|r| r.span_id.as_str()).collect();
    let (admission, call, guest, callback) = (
        by_name("admission"),
        by_name("async_call"),
        by_name("guest"),
        by_name("http.client"),
    );
    // The deploy's checks under the deploy's request, the call's run and its callback under the
    // request that accepted it: two requests, each the parent of its own.
    assert!(request_ids.contains(&admission.parent.as_str()), "{ours:?}");
    assert!(request_ids.contains(&call.parent.as_str()), "{ours:?}");
    assert_ne!(admission.parent, call.parent, "{ours:?}");
    assert_eq!(guest.parent, call.span_id, "{ours:?}");
    assert_eq!(callback.parent, call.parent, "{ours:?}");
    // The receiver saw the callback span's context, in the caller's trace.
    let sent = wasmgate_tests::eventually(
        "the callback arrives",
        crate::DEADLINE,
        || async { received.lock().unwrap().clone() },
        |sent| !sent.is_empty(),
    )
    .await
    .unwrap();
    assert_eq!(sent, vec![format!("00-{TRACE_ID}-{}-01", callback.span_id)]);
}

/// Deploys the `caps_events` guest as `events`: granted to reach 127.0.0.1, to publish, and its
/// bucket; subscribed to `traced.*`, so it also handles what it publishes there.
async fn deploy_events(gw: &Gateway) {
    let manifest = "[[triggers]]\nsubject = \"traced.*\"\n[messaging]\npublish = [\"traced.*\"]\n";
    let options = SignOptions {
        caps: vec![
            Capability::HttpOutgoing,
            Capability::Messaging,
            Capability::Keyvalue,
        ],
        allowed_hosts: BTreeMap::from([(
            Capability::HttpOutgoing,
            vec!["127.0.0.1".parse().unwrap()],
        )]),
        manifest: Some(manifest.as_bytes().to_vec()),
        ..SignOptions::default()
    };
    let signed = gw
        .sign_with(guests::CAPS_EVENTS, "events", options)
        .unwrap();
    let response = gw.deploy_parts("events", signed, manifest).await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// One call of `events` that GETs the upstream on `port`, then publishes to `traced.one`; then
/// what the delivery of that message to `events` recorded (its metadata, one `key: value` line
/// each).
async fn fetch_and_publish(gw: &Gateway, port: u16, traceparent: Option<&str>) -> String {
    let mut request = gw
        .client()
        .post(gw.url(&format!(
            "/fn/events/send/traced.one?fetch=http://127.0.0.1:{port}/data"
        )))
        .body("hi");
    if let Some(value) = traceparent {
        request = request.header("traceparent", value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().await.unwrap());
    wasmgate_tests::eventually(
        "the message is delivered",
        crate::DEADLINE,
        || async {
            let response = gw
                .client()
                .get(gw.url("/fn/events/record/traced.one"))
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        },
        |(status, _)| *status == 200,
    )
    .await
    .unwrap()
    .1
}

#[tokio::test]
async fn a_call_that_fetches_and_publishes_is_one_trace_down_to_the_messages_delivery() {
    let (collector, exported) = server(spans).await;
    let (upstream, received) = server(traceparents).await;
    let gw = traced_gateway(collector).await;
    deploy_events(&gw).await;
    let record = fetch_and_publish(
        &gw,
        upstream,
        Some(&format!("00-{TRACE_ID}-{CALLER_SPAN}-01")),
    )
    .await;

    let ours = spans_of_the_trace(
        &exported,
        "the call's and the delivery's spans reach the collector",
        |spans| {
            let count = |name: &str| spans.iter().filter(|s| s.name == name).count();
            count("request") == 1
                && count("http.client") == 1
                && count("messaging.publish") == 1
                && count("message") == 1
                && count("guest") == 2
        },
    )
    .await;
    let by_name = |name: &str| ours.iter().find(|s| s.name == name).unwrap().clone();
    let (request, client, publish, message) = (
        by_name("request"),
        by_name("http.client"),
        by_name("messaging.publish"),
        by_name("message"),
    );
    let guest_under = |parent: &str| {
        ours.iter()
            .find(|s| s.name == "guest" && s.parent == parent)
            .unwrap_or_else(|| panic!("no guest span under {parent}: {ours:#?}"))
            .clone()
    };
    assert_eq!(request.parent, CALLER_SPAN);
    // The HTTP call's guest made both the request and the message.
    let called = guest_under(&request.span_id);
    assert_eq!(client.parent, called.span_id, "{ours:#?}");
    assert_eq!(publish.parent, called.span_id, "{ours:#?}");
    // The message's delivery continues from the publish, and runs the guest again.
    assert_eq!(message.parent, publish.span_id, "{ours:#?}");
    guest_under(&message.span_id);
    // What travelled: the upstream saw the http.client span's context, the handler the
    // publish span's (a plain message: plain `traceparent` metadata).
    assert_eq!(
        received.lock().unwrap().clone(),
        vec![format!("00-{TRACE_ID}-{}-01", client.span_id)]
    );
    assert!(
        record.contains(&format!(
            "traceparent: 00-{TRACE_ID}-{}-01\n",
            publish.span_id
        )),
        "{record}"
    );
}

#[tokio::test]
async fn with_tracing_off_a_published_message_carries_no_trace_context() {
    let (upstream, _received) = server(traceparents).await;
    let gw = Gateway::builder()
        .config_toml("[egress]\nallow = [\"127.0.0.0/8\"]\n")
        .start()
        .await
        .unwrap();
    deploy_events(&gw).await;
    let record = fetch_and_publish(
        &gw,
        upstream,
        Some(&format!("00-{TRACE_ID}-{CALLER_SPAN}-01")),
    )
    .await;
    assert!(!record.contains("traceparent"), "{record}");
    assert!(record.starts_with("content-type: text/plain\n"), "{record}");
}

#[tokio::test]
async fn with_tracing_off_the_outgoing_request_carries_no_trace_context() {
    let (upstream, received) = server(traceparents).await;
    let gw = Gateway::builder()
        .config_toml("[egress]\nallow = [\"127.0.0.0/8\"]\n")
        .start()
        .await
        .unwrap();
    deploy_fetch(&gw).await;
    fetch(
        &gw,
        upstream,
        Some(&format!("00-{TRACE_ID}-{CALLER_SPAN}-01")),
    )
    .await;
    assert_eq!(received.lock().unwrap().clone(), vec![String::new()]);
}
