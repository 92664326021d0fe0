//! Messages as CloudEvents in protobuf format, the way they travel on NATS (structured mode: the
//! whole event in the payload). The schema is `capabilities/proto/cloudevents.proto`.
//!
//! Mapping: `ce-id`, `ce-source`, `ce-specversion` and `ce-type` metadata become the required
//! attributes (generated when missing); the content type becomes `datacontenttype`; other `ce-X`
//! metadata becomes attribute `X`. Metadata that is not a CloudEvents name (anything but lowercase
//! letters and digits after `ce-`, e.g. `wasmgate-error`) is kept under its own name, so it comes
//! back unchanged.

use super::bus::Message;
use bytes::Bytes;
use prost::Message as _;
use std::collections::HashMap;

/// The NATS `Content-Type` of a structured-mode protobuf CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+protobuf";

/// `io.cloudevents.v1.CloudEvent`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CloudEvent {
    /// Identifies the event.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Where it happened (a URI reference).
    #[prost(string, tag = "2")]
    pub source: String,
    /// The CloudEvents version, `1.0`.
    #[prost(string, tag = "3")]
    pub spec_version: String,
    /// What happened.
    #[prost(string, tag = "4")]
    pub r#type: String,
    /// Optional and extension attributes.
    #[prost(map = "string, message", tag = "5")]
    pub attributes: HashMap<String, AttributeValue>,
    /// The payload.
    #[prost(oneof = "Data", tags = "6, 7")]
    pub data: Option<Data>,
}

/// `CloudEventAttributeValue` (the timestamp variant is not used and skipped when read).
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeValue {
    /// The value.
    #[prost(oneof = "Attr", tags = "1, 2, 3, 4, 5, 6")]
    pub attr: Option<Attr>,
}

/// The types of an attribute value.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Attr {
    /// `ce_boolean`.
    #[prost(bool, tag = "1")]
    CeBoolean(bool),
    /// `ce_integer`.
    #[prost(int32, tag = "2")]
    CeInteger(i32),
    /// `ce_string`.
    #[prost(string, tag = "3")]
    CeString(String),
    /// `ce_bytes`.
    #[prost(bytes = "vec", tag = "4")]
    CeBytes(Vec<u8>),
    /// `ce_uri`.
    #[prost(string, tag = "5")]
    CeUri(String),
    /// `ce_uri_ref`.
    #[prost(string, tag = "6")]
    CeUriRef(String),
}

/// The payload (`proto_data` is not used and skipped when read).
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Data {
    /// `binary_data`.
    #[prost(bytes = "bytes", tag = "6")]
    BinaryData(Bytes),
    /// `text_data`.
    #[prost(string, tag = "7")]
    TextData(String),
}

/// Whether `name` is a CloudEvents attribute name (lowercase ASCII letters and digits).
fn is_ce_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// `message` as an encoded CloudEvent.
pub fn encode(message: &Message) -> Bytes {
    let mut event = CloudEvent {
        id: String::new(),
        source: "/wasmgate".into(),
        spec_version: "1.0".into(),
        r#type: "wasmgate.message".into(),
        attributes: HashMap::new(),
        data: Some(Data::BinaryData(message.data.clone())),
    };
    for (key, value) in &message.metadata {
        match key.strip_prefix("ce-").filter(|n| is_ce_name(n)) {
            Some("id") => event.id = value.clone(),
            Some("source") => event.source = value.clone(),
            Some("specversion") => event.spec_version = value.clone(),
            Some("type") => event.r#type = value.clone(),
            Some(name) => {
                event.attributes.insert(name.to_owned(), string(value));
            }
            None => {
                event.attributes.insert(key.clone(), string(value));
            }
        }
    }
    if event.id.is_empty() {
        event.id = uuid::Uuid::new_v4().to_string();
    }
    if let Some(content_type) = &message.content_type {
        event
            .attributes
            .insert("datacontenttype".into(), string(content_type));
    }
    Bytes::from(event.encode_to_vec())
}

/// A message decoded from a CloudEvent `payload` received on `subject`; `None` if it is not one.
pub fn decode(subject: String, reply_to: Option<String>, payload: &[u8]) -> Option<Message> {
    let event = CloudEvent::decode(payload).ok()?;
    let mut metadata = vec![
        ("ce-id".to_owned(), event.id),
        ("ce-source".to_owned(), event.source),
    ];
    // 1.0 is the only version and the default on the way out; only another one is worth keeping.
    if event.spec_version != "1.0" {
        metadata.push(("ce-specversion".to_owned(), event.spec_version));
    }
    metadata.push(("ce-type".to_owned(), event.r#type));
    let mut content_type = None;
    let mut attributes: Vec<(String, AttributeValue)> = event.attributes.into_iter().collect();
    attributes.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in attributes {
        let Some(text) = text(value) else { continue };
        if name == "datacontenttype" {
            content_type = Some(text);
        } else if is_ce_name(&name) {
            metadata.push((format!("ce-{name}"), text));
        } else {
            metadata.push((name, text));
        }
    }
    let data = match event.data {
        Some(Data::BinaryData(bytes)) => bytes,
        Some(Data::TextData(text)) => Bytes::from(text),
        None => Bytes::new(),
    };
    Some(Message {
        subject,
        reply_to,
        content_type,
        metadata,
        data,
    })
}

fn string(value: &str) -> AttributeValue {
    AttributeValue {
        attr: Some(Attr::CeString(value.to_owned())),
    }
}

fn text(value: AttributeValue) -> Option<String> {
    Some(match value.attr? {
        Attr::CeBoolean(b) => b.to_string(),
        Attr::CeInteger(i) => i.to_string(),
        Attr::CeString(s) | Attr::CeUri(s) | Attr::CeUriRef(s) => s,
        Attr::CeBytes(b) => String::from_utf8_lossy(&b).into_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_round_trips_through_a_cloudevent() {
        let message = Message::new("orders.eu", "payload")
            .with_content_type("text/plain")
            .with_metadata("ce-type", "order.created")
            .with_metadata("ce-id", "42")
            .with_metadata("ce-tenant", "acme")
            .with_metadata("wasmgate-error", "asked to fail");
        let bytes = encode(&message);
        let event = CloudEvent::decode(bytes.as_ref()).unwrap();
        assert_eq!(event.id, "42");
        assert_eq!(event.r#type, "order.created");
        assert_eq!(event.spec_version, "1.0");
        assert_eq!(event.attributes["tenant"], string("acme"));
        assert_eq!(event.attributes["datacontenttype"], string("text/plain"));
        assert_eq!(event.data, Some(Data::BinaryData(Bytes::from("payload"))));

        let back = decode("orders.eu".into(), None, &bytes).unwrap();
        assert_eq!(back.data, message.data);
        assert_eq!(back.content_type.as_deref(), Some("text/plain"));
        for pair in [
            ("ce-type", "order.created"),
            ("ce-id", "42"),
            ("ce-tenant", "acme"),
            ("wasmgate-error", "asked to fail"),
        ] {
            assert!(
                back.metadata
                    .contains(&(pair.0.to_owned(), pair.1.to_owned())),
                "{pair:?} in {:?}",
                back.metadata
            );
        }
    }

    #[test]
    fn required_attributes_are_filled_in_and_text_data_is_read() {
        let event = CloudEvent::decode(encode(&Message::new("a", "x")).as_ref()).unwrap();
        assert!(!event.id.is_empty() && event.source == "/wasmgate");
        let text_event = CloudEvent {
            id: "1".into(),
            source: "/s".into(),
            spec_version: "1.0".into(),
            r#type: "t".into(),
            attributes: HashMap::new(),
            data: Some(Data::TextData("hello".into())),
        };
        let message = decode("s".into(), None, &text_event.encode_to_vec()).unwrap();
        assert_eq!(message.data, Bytes::from("hello"));
    }

    #[test]
    fn a_payload_that_is_not_a_cloudevent_is_not_decoded() {
        assert!(decode("s".into(), None, b"\xff\xff\xff plain text").is_none());
    }
}
