//! `POST /publish/{subject}` with events the Python SDK produced: what the guest sees is one
//! assertion list, run on the embedded bus and on a real NATS server.

use super::{Bus, Record, base64_field, deliveries, error_of, raw_publish, received, sdk_http};
use serde_json::{Value, json};
use wasmgate_tests::Gateway;

/// Each case as a test on the embedded bus and one over NATS.
macro_rules! bus_tests {
    ($($case:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $case() {
                    let bus = super::Bus::embedded().await;
                    super::$case(&bus).await;
                }
            )*
        }
        mod over_nats {
            $(
                #[tokio::test]
                async fn $case() {
                    let bus = super::Bus::nats().await;
                    super::$case(&bus).await;
                }
            )*
        }
    };
}

bus_tests! {
    binary_mode_events_of_the_sdk_reach_the_guest_attribute_by_attribute,
    binary_mode_events_of_the_legacy_sdk_api_reach_the_guest,
    structured_mode_events_arrive_as_the_event_not_an_envelope,
    percent_encoded_and_quoted_header_values_are_decoded,
    raw_utf8_header_values_arrive_and_invalid_utf8_is_refused,
    invalid_events_are_refused_and_never_delivered,
    content_types_are_compared_as_media_types,
    a_plain_publish_is_still_a_plain_message,
    cloudevents_media_types_not_read_are_refused_with_415,
}

/// A batch and a format the gateway does not read get 415 naming the media type, and nothing is
/// published (a plain message sent after them is the first thing the guest sees on the subject).
async fn cloudevents_media_types_not_read_are_refused_with_415(bus: &Bus) {
    let gw = &bus.gw;
    for content_type in [
        "application/cloudevents-batch+json",
        "Application/CloudEvents+XML; charset=utf-8",
    ] {
        let (status, body) = raw_publish(
            gw,
            "ce.unread",
            &[("content-type", content_type.as_bytes())],
            b"[]",
        )
        .await;
        let (status, code, _) = error_of(status, &body);
        assert_eq!(
            (status, code.as_str()),
            (415, "unsupported_media_type"),
            "{content_type}: {}",
            String::from_utf8_lossy(&body)
        );
    }
    let (status, _) = raw_publish(
        gw,
        "ce.unread",
        &[("content-type", b"text/plain")],
        b"control",
    )
    .await;
    assert_eq!(status, 202);
    assert_eq!(received(gw, "ce.unread").await.data, b"control");
    assert_eq!(deliveries(gw, "sink", "ce.unread").await, "1");
}

/// The binary-mode event both SDK APIs send; extensions in an order that is not sorted.
fn binary_event(api: &str) -> Value {
    json!({
        "api": api,
        "attributes": {
            "id": format!("bin-{api}"),
            "source": "/orders/eu",
            "type": "com.example.order.created",
            "subject": "order-42",
            "time": "2026-11-30T10:00:00.123Z",
            "datacontenttype": "application/json",
            "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "region": "eu",
            "priority": 42,
        },
        "data": {"json": {"order": 42}},
    })
}

async fn binary_mode(gw: &Gateway, api: &str) {
    let case = format!("binary mode ({api} API)");
    let subject = format!("ce.binary.{api}");
    let sent = sdk_http(gw, "http-binary", &subject, &binary_event(api), &[]).await;
    assert_eq!(sent["status"], 202, "{case}: {sent}");
    let record = received(gw, &subject).await;
    let id = format!("bin-{api}");
    record.assert_attributes(
        &case,
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", &id),
            ("ce-source", "/orders/eu"),
            ("ce-type", "com.example.order.created"),
            ("ce-subject", "order-42"),
            // The core API sends `.123000Z`; the canonical form has as few digit groups as needed.
            ("ce-time", "2026-11-30T10:00:00.123Z"),
            ("ce-priority", "42"),
            ("ce-region", "eu"),
            (
                "ce-traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        ],
    );
    assert_eq!(
        record.content_type.as_deref(),
        Some("application/json"),
        "{case}: content type"
    );
    assert_eq!(
        record.data,
        base64_field(&sent["sent_body_b64"]),
        "{case}: data is the body as sent"
    );
}

async fn binary_mode_events_of_the_sdk_reach_the_guest_attribute_by_attribute(bus: &Bus) {
    binary_mode(&bus.gw, "core").await;
}

async fn binary_mode_events_of_the_legacy_sdk_api_reach_the_guest(bus: &Bus) {
    binary_mode(&bus.gw, "legacy").await;
}

async fn structured_mode_events_arrive_as_the_event_not_an_envelope(bus: &Bus) {
    let gw = &bus.gw;
    // (case, API, datacontenttype, data as the client takes it, the data the guest should see)
    let cases: [(&str, &str, &str, Value, &[u8]); 4] = [
        (
            "JSON object data",
            "core",
            "application/json",
            json!({"json": {"a": 1}}),
            b"{\"a\":1}",
        ),
        (
            "text data",
            "core",
            "text/plain",
            json!({"text": "hello, world"}),
            b"hello, world",
        ),
        (
            "binary data as data_base64",
            "core",
            "application/octet-stream",
            json!({"base64": "AAH/"}),
            &[0x00, 0x01, 0xff],
        ),
        (
            "JSON object data (legacy API)",
            "legacy",
            "application/json",
            json!({"json": {"a": 1}}),
            b"{\"a\":1}",
        ),
    ];
    for (n, (case, api, content_type, data, expected)) in cases.into_iter().enumerate() {
        let case = format!("structured mode, {case}");
        let subject = format!("ce.structured.{n}");
        let id = format!("st-{n}");
        let event = json!({
            "api": api,
            "attributes": {
                "id": id,
                "source": "/structured",
                "type": "com.example.structured",
                "subject": "s-1",
                "time": "2026-11-30T10:00:00Z",
                "datacontenttype": content_type,
                "urgent": true,
                "priority": 42,
            },
            "data": data,
        });
        let sent = sdk_http(gw, "http-structured", &subject, &event, &[]).await;
        assert_eq!(
            sent["sent_headers"]["content-type"], "application/cloudevents+json",
            "{case}: the SDK sent structured mode"
        );
        assert_eq!(sent["status"], 202, "{case}: {sent}");
        let record = received(gw, &subject).await;
        record.assert_attributes(
            &case,
            &[
                ("ce-specversion", "1.0"),
                ("ce-id", &id),
                ("ce-source", "/structured"),
                ("ce-type", "com.example.structured"),
                ("ce-subject", "s-1"),
                ("ce-time", "2026-11-30T10:00:00Z"),
                ("ce-priority", "42"),
                ("ce-urgent", "true"),
            ],
        );
        assert_eq!(
            record.content_type.as_deref(),
            Some(content_type),
            "{case}: content type is datacontenttype"
        );
        if content_type == "application/json" {
            let seen: Value = serde_json::from_slice(&record.data)
                .unwrap_or_else(|e| panic!("{case}: data is JSON: {e}: {}", record.text()));
            let want: Value = serde_json::from_slice(expected).unwrap();
            assert_eq!(seen, want, "{case}: data");
        } else {
            assert_eq!(record.data, expected, "{case}: data");
        }
    }
}

/// A binary-mode event's required headers, for hand-written requests.
fn required(id: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ce-specversion", "1.0".into()),
        ("ce-id", id.into()),
        ("ce-source", "/s".into()),
        ("ce-type", "com.example.t".into()),
    ]
}

async fn percent_encoded_and_quoted_header_values_are_decoded(bus: &Bus) {
    let gw = &bus.gw;
    let event = json!({
        "attributes": {"id": "pct-1", "source": "/room 1", "type": "com.example.t"},
        "data": {"text": "x"},
    });
    let sent = sdk_http(gw, "http-binary", "ce.pct", &event, &[]).await;
    assert_eq!(
        sent["sent_headers"]["ce-source"], "/room%201",
        "the SDK percent-encodes a space"
    );
    assert_eq!(sent["status"], 202, "percent-encoded: {sent}");
    let record = received(gw, "ce.pct").await;
    assert_eq!(
        record.get("ce-source"),
        Some("/room 1"),
        "percent-encoded: {record:?}"
    );

    let mut request = gw
        .client()
        .post(gw.url("/publish/ce.quoted"))
        .header("content-type", "text/plain")
        .header("ce-subject", r#""quoted \"v\"""#);
    for (name, value) in required("quoted-1") {
        request = request.header(name, value);
    }
    let response = request.body("x").send().await.unwrap();
    assert_eq!(response.status(), 202, "quoted");
    let record = received(gw, "ce.quoted").await;
    assert_eq!(
        record.get("ce-subject"),
        Some(r#"quoted "v""#),
        "quoted: {record:?}"
    );
}

async fn raw_utf8_header_values_arrive_and_invalid_utf8_is_refused(bus: &Bus) {
    let gw = &bus.gw;
    let with_source = |id: &'static str, source: &'static [u8]| -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("content-type", b"text/plain".to_vec()),
            ("ce-specversion", b"1.0".to_vec()),
            ("ce-id", id.as_bytes().to_vec()),
            ("ce-source", source.to_vec()),
            ("ce-type", b"com.example.t".to_vec()),
        ]
    };
    let publish = |subject: &'static str, headers: Vec<(&'static str, Vec<u8>)>| async move {
        let headers: Vec<(&str, &[u8])> = headers.iter().map(|(n, v)| (*n, &v[..])).collect();
        raw_publish(gw, subject, &headers, b"x").await
    };

    let (status, body) = publish("ce.utf8", with_source("utf8-1", "/café".as_bytes())).await;
    assert_eq!(status, 202, "raw UTF-8: {}", String::from_utf8_lossy(&body));
    let record = received(gw, "ce.utf8").await;
    assert_eq!(record.get("ce-source"), Some("/café"), "raw UTF-8");

    for (case, subject, source) in [
        ("a raw 0xE9 byte", "ce.latin1", &b"/caf\xe9"[..]),
        ("%E9 percent-encoded", "ce.pct-latin1", &b"/caf%E9"[..]),
    ] {
        let (status, body) = publish(subject, with_source("bad-utf8", source)).await;
        assert_eq!(
            error_of(status, &body),
            (400, "invalid_event".into(), "source".into()),
            "{case}: {}",
            String::from_utf8_lossy(&body)
        );
    }
}

async fn invalid_events_are_refused_and_never_delivered(bus: &Bus) {
    let gw = &bus.gw;
    let event = json!({
        "attributes": {
            "id": "inv-1", "source": "/s", "type": "com.example.t",
            "time": "2026-11-30T10:00:00Z",
        },
        "data": {"text": "x"},
    });
    let mut refused = Vec::new();
    for attribute in ["id", "source", "type", "specversion"] {
        let case = format!("binary mode without ce-{attribute}");
        let subject = format!("ce.invalid.{attribute}");
        let header = format!("ce-{attribute}");
        let sent = sdk_http(gw, "http-binary", &subject, &event, &["--drop", &header]).await;
        let body = sent["body"].as_str().unwrap_or("").as_bytes();
        assert_eq!(
            error_of(sent["status"].as_u64().unwrap_or(0) as u16, body),
            (400, "invalid_event".into(), attribute.into()),
            "{case}: {sent}"
        );
        refused.push(subject);
    }

    let structured = |subject: &str, content_type: &str, body: &str| {
        gw.client()
            .post(gw.url(&format!("/publish/{subject}")))
            .header("content-type", content_type)
            .body(body.to_owned())
            .send()
    };
    let cases = [
        (
            "a structured body that is not JSON",
            "ce.invalid.not-json",
            "application/cloudevents+json",
            "not json",
            (400, "invalid_event"),
        ),
        (
            "a structured body without id",
            "ce.invalid.no-id",
            "application/cloudevents+json",
            r#"{"specversion":"1.0","source":"/s","type":"com.example.t","data":"x"}"#,
            (400, "invalid_event"),
        ),
        (
            "a batch",
            "ce.invalid.batch",
            "application/cloudevents-batch+json",
            r#"[{"specversion":"1.0","id":"b-1","source":"/s","type":"com.example.t"}]"#,
            (415, "unsupported_media_type"),
        ),
    ];
    for (case, subject, content_type, body, (status, code)) in cases {
        let response = structured(subject, content_type, body).await.unwrap();
        let got = response.status().as_u16();
        let body = response.bytes().await.unwrap();
        let (got, got_code, attribute) = error_of(got, &body);
        assert_eq!((got, got_code.as_str()), (status, code), "{case}");
        if subject == "ce.invalid.no-id" {
            assert_eq!(attribute, "id", "{case}: error.attribute");
        }
        refused.push(subject.to_owned());
    }

    // A valid event published after them has arrived; none of them has.
    let control = json!({
        "attributes": {"id": "control-1", "source": "/s", "type": "com.example.t"},
        "data": {"text": "control"},
    });
    let sent = sdk_http(gw, "http-binary", "ce.control", &control, &[]).await;
    assert_eq!(sent["status"], 202, "control: {sent}");
    assert_eq!(received(gw, "ce.control").await.text(), "control");
    for subject in refused {
        assert_eq!(
            deliveries(gw, "sink", &subject).await,
            "0",
            "{subject} was refused, so nothing reaches the guest"
        );
    }
}

async fn content_types_are_compared_as_media_types(bus: &Bus) {
    let gw = &bus.gw;
    let event = json!({
        "attributes": {
            "id": "media-1", "source": "/media", "type": "com.example.media",
            "time": "2026-11-30T10:00:00Z", "datacontenttype": "text/plain",
        },
        "data": {"text": "by media type"},
    });
    let header = "content-type=Application/CloudEvents+JSON; charset=utf-8";
    let sent = sdk_http(
        gw,
        "http-structured",
        "ce.media",
        &event,
        &["--header", header],
    )
    .await;
    assert_eq!(sent["status"], 202, "mixed-case media type: {sent}");
    let record = received(gw, "ce.media").await;
    record.assert_attributes(
        "Application/CloudEvents+JSON; charset=utf-8 is structured mode",
        &[
            ("ce-specversion", "1.0"),
            ("ce-id", "media-1"),
            ("ce-source", "/media"),
            ("ce-type", "com.example.media"),
            ("ce-time", "2026-11-30T10:00:00Z"),
        ],
    );
    assert_eq!(record.text(), "by media type");
    assert_eq!(record.content_type.as_deref(), Some("text/plain"));
}

async fn a_plain_publish_is_still_a_plain_message(bus: &Bus) {
    let gw = &bus.gw;
    let response = gw
        .client()
        .post(gw.url("/publish/ce.plain"))
        .header("content-type", "text/plain")
        .body("plain body")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let record: Record = received(gw, "ce.plain").await;
    record.assert_attributes("a plain publish", &[]);
    assert_eq!(record.content_type.as_deref(), Some("text/plain"));
    assert_eq!(record.text(), "plain body");
}
