//! CloudEvents on NATS as other clients write and read them: the Python client publishes straight
//! onto the NATS server the gateway uses, and listens to what the gateway publishes there.

use super::{Bus, base64_field, deliveries, deploy, received, received_where, sdk_http};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use prost::Message as _;
use serde_json::{Value, json};
use wasmgate_tests::{CloudEventsListener, cloudevents_client};

/// `google.protobuf.Any`, to unpack what the guest got as `proto_data`.
#[derive(Clone, PartialEq, prost::Message)]
struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

/// Publishes with a `client.py` NATS subcommand (`nats-proto`, `nats-json`, `nats-raw`).
async fn nats_publish(bus: &Bus, command: &str, subject: &str, args: &[&str]) -> Value {
    let url = bus.nats_url();
    let mut all = vec![command, "--url", &url, "--subject", subject];
    all.extend_from_slice(args);
    cloudevents_client(&all).await.unwrap()
}

async fn proto(bus: &Bus, subject: &str, event: &Value, content_type: Option<&str>) -> Value {
    let event = event.to_string();
    let mut args = vec!["--event", event.as_str()];
    if let Some(content_type) = content_type {
        args.extend(["--content-type", content_type]);
    }
    nats_publish(bus, "nats-proto", subject, &args).await
}

#[tokio::test]
async fn protobuf_events_reach_the_guest_with_canonical_attribute_values() {
    let bus = Bus::nats().await;
    let event = json!({
        "id": "pb-1", "source": "/sensors/7", "spec_version": "1.0", "type": "com.example.reading",
        "attributes": {
            "time": {"ce_timestamp": "2026-11-30T10:00:00.500Z"},
            "tag": {"ce_bytes": "AAH/"},
            "subject": {"ce_string": "room-1"},
            "count": {"ce_integer": 7},
            "urgent": {"ce_boolean": true},
            "dataschema": {"ce_uri": "https://example.com/reading.json"},
            "datacontenttype": {"ce_string": "text/plain"},
        },
        "text_data": "21.5",
    });
    proto(&bus, "ce.nats.proto", &event, None).await;
    let record = received(&bus.gw, "ce.nats.proto").await;
    record.assert_attributes(
        "a protobuf event",
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "pb-1"),
            ("ce-source", "/sensors/7"),
            ("ce-type", "com.example.reading"),
            ("ce-subject", "room-1"),
            ("ce-time", "2026-11-30T10:00:00.500Z"),
            ("ce-dataschema", "https://example.com/reading.json"),
            ("ce-count", "7"),
            ("ce-tag", "AAH/"),
            ("ce-urgent", "true"),
        ],
    );
    assert_eq!(record.content_type.as_deref(), Some("text/plain"));
    assert_eq!(record.text(), "21.5");
}

#[tokio::test]
async fn proto_data_reaches_the_guest_as_a_serialized_any() {
    let bus = Bus::nats().await;
    let event = json!({
        "id": "any-1", "source": "/s", "spec_version": "1.0", "type": "com.example.any",
        "proto_data": {"string_value": "hello"},
    });
    let sent = proto(&bus, "ce.nats.any", &event, None).await;
    let record = received(&bus.gw, "ce.nats.any").await;
    assert_eq!(
        record.content_type.as_deref(),
        Some("application/protobuf"),
        "proto_data without datacontenttype"
    );
    assert_eq!(record.data, base64_field(&sent["proto_data_b64"]));
    let any = Any::decode(&record.data[..]).unwrap();
    assert_eq!(
        any.type_url,
        "type.googleapis.com/google.protobuf.StringValue"
    );
    // StringValue { value: "hello" }: field 1, length 5.
    assert_eq!(any.value, b"\x0a\x05hello");
}

#[tokio::test]
async fn protobuf_content_types_are_compared_as_media_types() {
    let bus = Bus::nats().await;
    for (n, content_type) in [
        "application/cloudevents+protobuf; charset=utf-8",
        "APPLICATION/CLOUDEVENTS+PROTOBUF",
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("media-{n}");
        let subject = format!("ce.nats.media.{n}");
        let event = json!({
            "id": id, "source": "/s", "spec_version": "1.0", "type": "com.example.t",
            "attributes": {"time": {"ce_timestamp": "2026-11-30T10:00:00Z"}},
            "binary_data": "AAH/",
        });
        proto(&bus, &subject, &event, Some(content_type)).await;
        let record = received(&bus.gw, &subject).await;
        record.assert_attributes(
            content_type,
            &[
                ("ce-specversion", "1.0"),
                ("ce-id", &id),
                ("ce-source", "/s"),
                ("ce-type", "com.example.t"),
                ("ce-time", "2026-11-30T10:00:00Z"),
            ],
        );
        assert_eq!(record.data, [0x00, 0x01, 0xff], "{content_type}: data");
    }
}

#[tokio::test]
async fn a_message_claiming_a_cloudevents_format_it_is_not_is_dead_lettered_at_once() {
    let bus = Bus::nats().await;
    deploy(
        &bus.gw,
        "dlq",
        "[[triggers]]\nsubject = \"wasmgate.dead-letter.>\"\n",
    )
    .await;
    let cases = [
        // Decodes as an empty protobuf message (0x68 0x69 is field 13, varint 0x69): no id.
        (
            "payload `hi`",
            "ce.nats.hi",
            "application/cloudevents+protobuf",
            &b"hi"[..],
        ),
        (
            "truncated protobuf",
            "ce.nats.truncated",
            "application/cloudevents+protobuf",
            &b"\x0a\x05ab"[..],
        ),
        (
            "JSON format that is not JSON",
            "ce.nats.not-json",
            "application/cloudevents+json",
            &b"{not json"[..],
        ),
        (
            "a batch, which is not read on NATS",
            "ce.nats.batch",
            "Application/CloudEvents-Batch+JSON",
            &b"[]"[..],
        ),
    ];
    for (case, subject, content_type, payload) in cases {
        let payload_b64 = BASE64.encode(payload);
        nats_publish(
            &bus,
            "nats-raw",
            subject,
            &[
                "--content-type",
                content_type,
                "--payload-b64",
                &payload_b64,
            ],
        )
        .await;
        let dead = received_where(&bus.gw, "dlq", "wasmgate.dead-letter.sink", |r| {
            r.get("wasmgate-subject") == Some(subject)
        })
        .await;
        assert_eq!(dead.data, payload, "{case}: the raw payload");
        assert_eq!(
            dead.content_type.as_deref(),
            Some("application/octet-stream"),
            "{case}: content type"
        );
        assert_eq!(
            dead.get("wasmgate-content-type"),
            Some(content_type),
            "{case}: the claimed type"
        );
        let error = dead.get("wasmgate-error").unwrap_or("");
        assert!(!error.is_empty(), "{case}: wasmgate-error: {dead:?}");
        if subject == "ce.nats.hi" {
            // `hi` decodes as an empty event: the first required attribute checked is named.
            assert!(
                error.contains("`specversion`"),
                "{case}: the error names the missing attribute: {error}"
            );
        }
        assert_eq!(
            dead.get("wasmgate-attempts"),
            Some("0"),
            "{case}: dead-lettered without an attempt"
        );
        assert_eq!(
            deliveries(&bus.gw, "sink", subject).await,
            "0",
            "{case}: the guest is never called"
        );
    }

    // Binary mode (`ce-*` NATS headers) with a `time` that is not a timestamp: dead-lettered as
    // a plain message, its headers kept under `wasmgate-header-`, never lost.
    let subject = "ce.nats.binary-bad-time";
    nats_publish(
        &bus,
        "nats-raw",
        subject,
        &[
            "--payload-b64",
            &BASE64.encode(b"d"),
            "--header",
            "ce-specversion=1.0",
            "--header",
            "ce-id=1",
            "--header",
            "ce-source=/s",
            "--header",
            "ce-type=t",
            "--header",
            "ce-time=nope",
        ],
    )
    .await;
    let dead = received_where(&bus.gw, "dlq", "wasmgate.dead-letter.sink", |r| {
        r.get("wasmgate-subject") == Some(subject)
    })
    .await;
    assert_eq!(dead.data, b"d");
    assert_eq!(
        dead.get("wasmgate-header-ce-time"),
        Some("nope"),
        "{dead:?}"
    );
    assert!(
        dead.get("wasmgate-error").unwrap_or("").contains("`time`"),
        "{dead:?}"
    );
    assert_eq!(deliveries(&bus.gw, "sink", subject).await, "0");
}

#[tokio::test]
async fn json_format_events_on_nats_reach_the_guest() {
    let bus = Bus::nats().await;
    let event = json!({
        "attributes": {
            "id": "json-1", "source": "/json", "type": "com.example.json", "subject": "j",
            "time": "2026-11-30T10:00:00Z", "datacontenttype": "application/json", "priority": 3,
        },
        "data": {"json": {"a": 1}},
    });
    let event = event.to_string();
    nats_publish(&bus, "nats-json", "ce.nats.json", &["--event", &event]).await;
    let record = received(&bus.gw, "ce.nats.json").await;
    record.assert_attributes(
        "a JSON-format event on NATS",
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "json-1"),
            ("ce-source", "/json"),
            ("ce-type", "com.example.json"),
            ("ce-subject", "j"),
            ("ce-time", "2026-11-30T10:00:00Z"),
            ("ce-priority", "3"),
        ],
    );
    assert_eq!(record.content_type.as_deref(), Some("application/json"));
    let data: Value = serde_json::from_slice(&record.data).unwrap();
    assert_eq!(data, json!({"a": 1}));
}

/// The event `what_the_gateway_publishes` sends through `/publish`, for the listener to decode.
fn outgoing_event() -> Value {
    json!({
        "attributes": {
            "id": "out-1", "source": "/outgoing", "type": "com.example.out",
            "time": "2026-11-30T10:00:00Z", "datacontenttype": "text/plain", "region": "eu",
        },
        "data": {"text": "hello nats"},
    })
}

/// The bytes of a listener's decoded data, whichever way the format carried them.
fn data_bytes(data: &Value) -> Vec<u8> {
    if let Some(text) = data.get("text").and_then(Value::as_str) {
        text.as_bytes().to_vec()
    } else if let Some(b64) = data.get("base64") {
        base64_field(b64)
    } else {
        panic!("no text or binary data: {data}")
    }
}

/// A guest's plain message and an HTTP binary-mode event, as the listener reads them off NATS.
async fn what_the_gateway_publishes(messaging: &str, format: &str) {
    let bus = Bus::nats_with(messaging).await;
    deploy(&bus.gw, "sender", "[messaging]\npublish = [\"out.*\"]\n").await;
    let mut listener = CloudEventsListener::start(&bus.nats_url(), "out.>", 2)
        .await
        .unwrap();

    let response = bus
        .gw
        .client()
        .post(bus.gw.url("/fn/sender/send/out.plain"))
        .body("plain text")
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "sent");
    let plain = listener.next().await.unwrap();
    assert_eq!(
        plain["format"], "plain",
        "a plain message is not wrapped: {plain}"
    );
    assert_eq!(plain["content_type"], "text/plain", "{plain}");
    assert_eq!(base64_field(&plain["payload_b64"]), b"plain text");

    let sent = sdk_http(&bus.gw, "http-binary", "out.event", &outgoing_event(), &[]).await;
    assert_eq!(sent["status"], 202, "{sent}");
    let out = listener.next().await.unwrap();
    assert_eq!(out["format"], format, "{out}");
    let event = &out["event"];
    match format {
        "protobuf" => {
            assert_eq!(
                (
                    &event["id"],
                    &event["source"],
                    &event["type"],
                    &event["specversion"]
                ),
                (
                    &json!("out-1"),
                    &json!("/outgoing"),
                    &json!("com.example.out"),
                    &json!("1.0")
                ),
                "{out}"
            );
            let attributes = &event["attributes"];
            assert_eq!(
                attributes["time"],
                json!({"ce_timestamp": "2026-11-30T10:00:00Z"}),
                "time travels as a ce_timestamp: {out}"
            );
            let region = attributes["region"]
                .as_object()
                .and_then(|a| a.values().next());
            assert_eq!(region, Some(&json!("eu")), "{out}");
            assert_eq!(data_bytes(&event["data"]), b"hello nats", "{out}");
        }
        _ => {
            let attributes = &event["attributes"];
            for (name, value) in [
                ("id", "out-1"),
                ("source", "/outgoing"),
                ("type", "com.example.out"),
                ("specversion", "1.0"),
                ("time", "2026-11-30T10:00:00Z"),
                ("datacontenttype", "text/plain"),
                ("region", "eu"),
            ] {
                assert_eq!(attributes[name], value, "{name}: {out}");
            }
            assert_eq!(data_bytes(&event["data"]), b"hello nats", "{out}");
        }
    }
}

#[tokio::test]
async fn what_the_gateway_publishes_decodes_with_the_protobuf_schema() {
    what_the_gateway_publishes("", "protobuf").await;
}

#[tokio::test]
async fn with_event_format_json_what_the_gateway_publishes_parses_with_the_sdk() {
    what_the_gateway_publishes("event_format = \"json\"\n", "json").await;
}

/// An event larger than the NATS server's `max_payload` (1 MiB) is refused with 413
/// `message_too_large` naming the limit, not a 503 "retry later" that no retry could fix.
#[tokio::test]
async fn an_event_over_the_servers_max_payload_is_refused_with_413() {
    let bus = Bus::nats().await;
    let body = vec![b'x'; 1_100_000];
    let headers: [(&str, &[u8]); 5] = [
        ("ce-specversion", b"1.0"),
        ("ce-id", b"big-1"),
        ("ce-source", b"/s"),
        ("ce-type", b"t"),
        ("content-type", b"application/octet-stream"),
    ];
    let (status, response) = super::raw_publish(&bus.gw, "ce.big", &headers, &body).await;
    let (status, code, _) = super::error_of(status, &response);
    assert_eq!((status, code.as_str()), (413, "message_too_large"));
    assert!(
        String::from_utf8_lossy(&response).contains("max_payload"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}
