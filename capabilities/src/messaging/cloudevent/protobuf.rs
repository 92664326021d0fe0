//! The CloudEvents Protobuf Event Format 1.0 (`application/cloudevents+protobuf`). The schema is
//! `capabilities/proto/cloudevents.proto`, with the field numbers of the specification's
//! `cloudevents.proto`; the messages are declared here with prost derives.
//!
//! Attribute types map as the format's §2.1 says: `time` is a `ce_timestamp`, `dataschema` a
//! `ce_uri`, `datacontenttype` and `subject` `ce_string`s; extensions keep their type (String,
//! Integer, Boolean); a received `ce_bytes` becomes its Base64 text, `ce_uri` and `ce_uri_ref`
//! their text, a `ce_timestamp` extension its RFC 3339 text (the canonical strings of the
//! CloudEvents type system). Data (§3): `text_data` for text content types, `binary_data`
//! otherwise; a received `proto_data` (a `google.protobuf.Any`) becomes the serialized Any, type
//! URL and value, so a consumer can unpack it, labelled `application/protobuf` when the event
//! set no content type.

use super::media_type;
use super::{Event, InvalidEvent, Value, build, canonical_bytes};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use cloudevents::AttributesReader;
use cloudevents::event::{Data, ExtensionValue};
use prost::Message as _;
use std::collections::HashMap;

/// The media type of one event in the protobuf format (protobuf format §4).
pub const CONTENT_TYPE: &str = "application/cloudevents+protobuf";

/// The content type of `proto_data` (protobuf format §1.2).
pub const PROTOBUF_DATA: &str = "application/protobuf";

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
    #[prost(oneof = "Payload", tags = "6, 7, 8")]
    pub data: Option<Payload>,
}

/// `CloudEventAttributeValue`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AttributeValue {
    /// The value.
    #[prost(oneof = "Attr", tags = "1, 2, 3, 4, 5, 6, 7")]
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
    /// `ce_timestamp`.
    #[prost(message, tag = "7")]
    CeTimestamp(prost_types::Timestamp),
}

/// The payload.
#[derive(Clone, PartialEq, prost::Oneof)]
pub enum Payload {
    /// `binary_data`.
    #[prost(bytes = "bytes", tag = "6")]
    BinaryData(Bytes),
    /// `text_data`.
    #[prost(string, tag = "7")]
    TextData(String),
    /// `proto_data`.
    #[prost(message, tag = "8")]
    ProtoData(prost_types::Any),
}

/// `event` in the protobuf format.
pub fn encode(event: &Event) -> Bytes {
    let mut attributes = HashMap::new();
    let mut put = |name: &str, attr: Attr| {
        attributes.insert(name.to_owned(), AttributeValue { attr: Some(attr) });
    };
    if let Some(content_type) = event.datacontenttype() {
        put("datacontenttype", Attr::CeString(content_type.to_owned()));
    }
    if let Some(schema) = event.dataschema() {
        put("dataschema", Attr::CeUri(schema.to_string()));
    }
    if let Some(subject) = event.subject() {
        put("subject", Attr::CeString(subject.to_owned()));
    }
    if let Some(time) = event.time() {
        put("time", Attr::CeTimestamp(timestamp(time)));
    }
    for (name, value) in event.iter_extensions() {
        let attr = match value {
            ExtensionValue::String(s) => Attr::CeString(s.clone()),
            ExtensionValue::Boolean(b) => Attr::CeBoolean(*b),
            ExtensionValue::Integer(i) => match i32::try_from(*i) {
                Ok(small) => Attr::CeInteger(small),
                // The format's Integer is 32-bit; a wider value keeps its canonical string.
                Err(_) => Attr::CeString(i.to_string()),
            },
        };
        put(name, attr);
    }
    let text = event.datacontenttype().is_some_and(media_type::is_text);
    let data = match event.data() {
        None => None,
        Some(Data::String(s)) => Some(Payload::TextData(s.clone())),
        Some(Data::Json(v)) => Some(Payload::TextData(v.to_string())),
        Some(Data::Binary(b)) => Some(match std::str::from_utf8(b) {
            Ok(s) if text => Payload::TextData(s.to_owned()),
            _ => Payload::BinaryData(Bytes::copy_from_slice(b)),
        }),
    };
    let message = CloudEvent {
        id: event.id().to_owned(),
        source: event.source().to_string(),
        spec_version: super::SPEC_VERSION.to_owned(),
        r#type: event.ty().to_owned(),
        attributes,
        data,
    };
    Bytes::from(message.encode_to_vec())
}

/// The event in `payload`; refused when it is not a protobuf `CloudEvent` or not a valid event.
pub fn decode(payload: &[u8]) -> Result<Event, InvalidEvent> {
    let message = CloudEvent::decode(payload).map_err(|e| {
        InvalidEvent::whole(format!(
            "the payload is not a CloudEvent in the protobuf format ({e}): encode it with the CloudEvents cloudevents.proto schema"
        ))
    })?;
    let mut attributes = vec![
        ("specversion".to_owned(), Value::Text(message.spec_version)),
        ("id".to_owned(), Value::Text(message.id)),
        ("source".to_owned(), Value::Text(message.source)),
        ("type".to_owned(), Value::Text(message.r#type)),
    ];
    let mut content_type = None;
    let mut named: Vec<(String, AttributeValue)> = message.attributes.into_iter().collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, value) in named {
        let value = match value.attr {
            None => {
                return Err(InvalidEvent::attribute(
                    &name,
                    format!("the attribute `{name}` has no value: set one of its typed fields"),
                ));
            }
            Some(Attr::CeBoolean(b)) => Value::Boolean(b),
            Some(Attr::CeInteger(i)) => Value::Integer(i.into()),
            Some(Attr::CeString(s)) => Value::Text(s),
            Some(Attr::CeUri(s)) => {
                url::Url::parse(&s).map_err(|e| {
                    InvalidEvent::attribute(
                        &name,
                        format!("`{name}` is a ce_uri but {s:?} is not an absolute URI (RFC 3986 §4.3): {e}"),
                    )
                })?;
                Value::Text(s)
            }
            Some(Attr::CeUriRef(s)) => {
                super::check_uri_reference(&name, &s)?;
                Value::Text(s)
            }
            Some(Attr::CeBytes(b)) => Value::Text(canonical_bytes(&b)),
            Some(Attr::CeTimestamp(t)) => Value::Time(time(&name, &t)?),
        };
        if name == "datacontenttype" {
            match value {
                Value::Text(s) => content_type = Some(s),
                other => {
                    return Err(InvalidEvent::attribute(
                        "datacontenttype",
                        format!("`datacontenttype` must be a String, not {other:?}"),
                    ));
                }
            }
        } else {
            attributes.push((name, value));
        }
    }
    let data = match message.data {
        None => None,
        Some(Payload::BinaryData(b)) => Some(Data::Binary(b.to_vec())),
        Some(Payload::TextData(s)) => Some(Data::String(s)),
        Some(Payload::ProtoData(any)) => {
            content_type.get_or_insert_with(|| PROTOBUF_DATA.to_owned());
            Some(Data::Binary(any.encode_to_vec()))
        }
    };
    build(attributes, content_type, data)
}

fn timestamp(time: &DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: time.timestamp(),
        // At most 999,999,999 (a leap second's extra nanos are folded into the next second).
        nanos: i32::try_from(time.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0),
    }
}

fn time(name: &str, t: &prost_types::Timestamp) -> Result<DateTime<Utc>, InvalidEvent> {
    u32::try_from(t.nanos)
        .ok()
        .filter(|nanos| *nanos < 1_000_000_000)
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
        .ok_or_else(|| {
            InvalidEvent::attribute(
                name,
                format!(
                    "`{name}` is not a valid google.protobuf.Timestamp (seconds {}, nanos {})",
                    t.seconds, t.nanos
                ),
            )
        })
        .and_then(|time| super::in_range(name, time))
}

#[cfg(test)]
mod tests {
    use super::super::{Message, canonical, from_message, to_message};
    use super::*;

    fn event() -> Event {
        let message = Message::new("s", "payload")
            .with_content_type("text/plain")
            .with_metadata("ce-specversion", "1.0")
            .with_metadata("ce-id", "42")
            .with_metadata("ce-source", "/shop")
            .with_metadata("ce-type", "order.created")
            .with_metadata("ce-time", "2026-11-30T10:00:00.123Z")
            .with_metadata("ce-tenant", "acme");
        from_message(&message).unwrap().unwrap()
    }

    /// An event with the required attributes (id `1`, source `/s`, type `t`), `attributes`
    /// and `data`.
    fn required_and(
        attributes: HashMap<String, AttributeValue>,
        data: Option<Payload>,
    ) -> CloudEvent {
        CloudEvent {
            id: "1".into(),
            source: "/s".into(),
            spec_version: "1.0".into(),
            r#type: "t".into(),
            attributes,
            data,
        }
    }

    #[test]
    fn typed_attributes_are_written_as_the_format_says() {
        let decoded = CloudEvent::decode(encode(&event()).as_ref()).unwrap();
        assert_eq!(decoded.spec_version, "1.0");
        assert_eq!(
            decoded.attributes["time"].attr,
            Some(Attr::CeTimestamp(prost_types::Timestamp {
                seconds: 1_796_032_800,
                nanos: 123_000_000
            }))
        );
        assert_eq!(
            decoded.attributes["tenant"].attr,
            Some(Attr::CeString("acme".into()))
        );
        assert_eq!(decoded.data, Some(Payload::TextData("payload".into())));
    }

    #[test]
    fn an_event_round_trips_to_the_same_message() {
        let event = event();
        let back = decode(&encode(&event)).unwrap();
        assert_eq!(
            to_message("s".into(), None, &back, []),
            to_message("s".into(), None, &event, [])
        );
    }

    #[test]
    fn received_types_become_canonical_strings() {
        let mut attributes = HashMap::new();
        let mut put = |name: &str, attr| {
            attributes.insert(name.to_owned(), AttributeValue { attr: Some(attr) });
        };
        put("raw", Attr::CeBytes(vec![0, 1, 0xff]));
        put("count", Attr::CeInteger(5));
        put("flag", Attr::CeBoolean(true));
        put(
            "time",
            Attr::CeTimestamp(prost_types::Timestamp {
                seconds: 0,
                nanos: 0,
            }),
        );
        let wire = required_and(
            attributes,
            Some(Payload::ProtoData(prost_types::Any {
                type_url: "type.googleapis.com/x.Y".into(),
                value: vec![8, 1],
            })),
        );
        let event = decode(&wire.encode_to_vec()).unwrap();
        let message = to_message("s".into(), None, &event, []);
        let get = |k: &str| {
            message
                .metadata
                .iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("ce-specversion"), Some("1.0"));
        assert_eq!(get("ce-raw"), Some("AAH/"));
        assert_eq!(get("ce-count"), Some("5"));
        assert_eq!(get("ce-flag"), Some("true"));
        assert_eq!(get("ce-time"), Some("1970-01-01T00:00:00Z"));
        assert_eq!(message.content_type.as_deref(), Some(PROTOBUF_DATA));
        let any = prost_types::Any::decode(message.data.as_ref()).unwrap();
        assert_eq!(any.type_url, "type.googleapis.com/x.Y");
        assert_eq!(canonical(message.clone()).unwrap(), message);
    }

    #[test]
    fn timestamps_outside_what_rfc_3339_holds_are_refused() {
        for seconds in [253_402_300_800, -62_135_596_801] {
            let mut attributes = HashMap::new();
            attributes.insert(
                "time".to_owned(),
                AttributeValue {
                    attr: Some(Attr::CeTimestamp(prost_types::Timestamp {
                        seconds,
                        nanos: 0,
                    })),
                },
            );
            let wire = required_and(attributes, None);
            let err = decode(&wire.encode_to_vec()).unwrap_err();
            assert_eq!(err.attribute.as_deref(), Some("time"), "{seconds}: {err}");
        }
    }

    #[test]
    fn what_is_not_an_event_is_refused() {
        assert!(decode(b"hi").is_err());
        assert!(decode(b"\xff\xff\xff plain text").is_err());
        // An empty payload decodes to an empty CloudEvent: refused for its missing attributes.
        assert_eq!(
            decode(b"").unwrap_err().attribute.as_deref(),
            Some("specversion")
        );
    }
}
