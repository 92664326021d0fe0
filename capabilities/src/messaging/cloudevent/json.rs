//! The CloudEvents JSON Event Format 1.0 (`application/cloudevents+json`).
//!
//! Reading: the members of the one JSON object are taken in order (a repeated name is refused)
//! and each attribute goes through [`build`], which names the attribute at fault;
//! `data` keeps its exact JSON text (numbers, key order and spacing as sent) when the content type
//! is JSON or absent (absent means JSON, format §3.1), is the string's text under another content
//! type, and `data_base64` is binary. Writing: the attributes through the official SDK's serde
//! support, then the data member: the exact JSON text when the bytes are JSON and the content type
//! is JSON or absent, a JSON string for UTF-8 under a text content type, else `data_base64`.

use super::media_type;
use super::{Event, InvalidEvent, Value, build};
use base64::Engine as _;
use bytes::Bytes;
use cloudevents::event::Data;
use cloudevents::{AttributesReader, AttributesWriter};
use serde::Deserialize as _;
use serde_json::value::RawValue;
use serde_json::{Number, Value as Json};
use std::fmt;

/// The media type of one event in the JSON format (JSON format §4).
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The members of one JSON object, in document order, values unparsed.
struct Members(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// The event in a JSON document; refused, with the attribute named when one is at fault, if
/// it is not one JSON object, repeats a member, misses a required attribute or has a value of
/// the wrong type.
pub fn decode(payload: &[u8]) -> Result<Event, InvalidEvent> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let Members(members) = Members::deserialize(&mut deserializer)
        .and_then(|m| deserializer.end().map(|()| m))
        .map_err(|e| {
            InvalidEvent::whole(format!(
                "the body is not one JSON object ({e}): a structured-mode event in the JSON format is one JSON object"
            ))
        })?;
    let mut seen = std::collections::HashSet::new();
    let mut attributes = Vec::new();
    let (mut content_type, mut data, mut data_base64) = (None, None, None);
    for (name, raw) in members {
        if !seen.insert(name.clone()) {
            return Err(InvalidEvent::attribute(
                &name,
                format!("the member `{name}` is given twice: give it once"),
            ));
        }
        match name.as_str() {
            "data" => data = Some(raw),
            "data_base64" => data_base64 = Some(raw),
            "datacontenttype" => content_type = Some(string(&name, &raw)?),
            _ => {
                if let Some(value) = attribute(&name, &raw)? {
                    attributes.push((name, value));
                }
            }
        }
    }
    let data = match (data, data_base64) {
        (Some(_), Some(_)) => {
            return Err(InvalidEvent::attribute(
                "data",
                "an event has either `data` or `data_base64`, not both",
            ));
        }
        (None, Some(encoded)) => {
            let encoded = string("data_base64", &encoded)?;
            Some(Data::Binary(
                base64::engine::general_purpose::STANDARD
                    .decode(encoded.as_bytes())
                    .map_err(|e| {
                        InvalidEvent::attribute(
                            "data_base64",
                            format!("`data_base64` is not Base64 (RFC 4648 §4): {e}"),
                        )
                    })?,
            ))
        }
        (Some(raw), None) if content_type.as_deref().is_none_or(media_type::is_json) => {
            Some(Data::Binary(raw.get().as_bytes().to_vec()))
        }
        (Some(raw), None) => match serde_json::from_str::<Json>(raw.get()) {
            Ok(Json::String(text)) => Some(Data::String(text)),
            _ => {
                return Err(InvalidEvent::attribute(
                    "data",
                    "`data` under a content type that is not JSON must be a JSON string: send binary data as `data_base64`",
                ));
            }
        },
        (None, None) => None,
    };
    build(attributes, content_type, data)
}

/// A member that must be a JSON string.
fn string(name: &str, raw: &RawValue) -> Result<String, InvalidEvent> {
    match serde_json::from_str::<Json>(raw.get()) {
        Ok(Json::String(s)) => Ok(s),
        _ => Err(InvalidEvent::attribute(
            name,
            format!("`{name}` must be a JSON string, not {}", raw.get()),
        )),
    }
}

/// An attribute member as a [`Value`]: a String, Boolean or Integer; `null` is an absent
/// attribute (format §2.4).
fn attribute(name: &str, raw: &RawValue) -> Result<Option<Value>, InvalidEvent> {
    let wrong = || {
        InvalidEvent::attribute(
            name,
            format!(
                "`{name}` must be a JSON string, boolean or integer (the CloudEvents types a JSON member carries), not {}",
                raw.get()
            ),
        )
    };
    Ok(
        match serde_json::from_str::<Json>(raw.get()).map_err(|_| wrong())? {
            Json::Null => None,
            Json::String(s) => Some(Value::Text(s)),
            Json::Bool(b) => Some(Value::Boolean(b)),
            Json::Number(n) => Some(Value::Integer(integer(&n).ok_or_else(wrong)?)),
            Json::Array(_) | Json::Object(_) => return Err(wrong()),
        },
    )
}

fn integer(n: &Number) -> Option<i64> {
    n.as_i64()
        .filter(|_| !n.to_string().contains(['.', 'e', 'E']))
}

/// `event` in the JSON format.
pub fn encode(event: &Event) -> Result<Bytes, InvalidEvent> {
    let mut attributes = event.clone();
    // `take_data` takes the content type and schema too: put them back.
    let (content_type, schema, data) = attributes.take_data();
    attributes.set_datacontenttype(content_type);
    attributes.set_dataschema(schema);
    let written = serde_json::to_string(&attributes)
        .map_err(|e| InvalidEvent::whole(format!("the event cannot be written as JSON: {e}")))?;
    let Some(data) = data else {
        return Ok(Bytes::from(written));
    };
    let content_type = event.datacontenttype();
    let bytes = super::data_bytes(Some(&data));
    let member = if content_type.is_none_or(media_type::is_json) {
        // JSON (an absent content type means JSON): valid JSON without surrounding space goes as
        // its exact text; anything else as `data_base64`, so the bytes read back are the same.
        if bytes.trim_ascii().len() == bytes.len()
            && serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok()
        {
            format!("\"data\":{}", String::from_utf8_lossy(&bytes))
        } else {
            base64_member(&bytes)
        }
    } else {
        match std::str::from_utf8(&bytes) {
            Ok(text) if content_type.is_some_and(media_type::is_text) => {
                format!("\"data\":{}", Json::String(text.to_owned()))
            }
            _ => base64_member(&bytes),
        }
    };
    // `written` is a JSON object with at least the required attributes: add the data member.
    let Some(open) = written.strip_suffix('}') else {
        return Err(InvalidEvent::whole(
            "the event's attributes were not written as a JSON object",
        ));
    };
    Ok(Bytes::from(format!("{open},{member}}}")))
}

fn base64_member(bytes: &[u8]) -> String {
    format!(
        "\"data_base64\":\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

#[cfg(test)]
mod tests {
    use super::super::{Message, canonical, data_bytes, from_message, to_message};
    use super::*;

    const BASE: &str = r#""specversion":"1.0","id":"1","source":"/s","type":"t""#;

    fn data_of(rest: &str) -> Bytes {
        let event = decode(format!("{{{BASE}{rest}}}").as_bytes()).unwrap();
        data_bytes(event.data())
    }

    #[test]
    fn data_members_follow_the_format_and_json_data_keeps_its_text() {
        assert_eq!(
            data_of(r#","data":{"b":1, "a":2}"#),
            Bytes::from(r#"{"b":1, "a":2}"#)
        );
        assert_eq!(
            data_of(r#","data":123456789012345678901234567890"#),
            Bytes::from("123456789012345678901234567890")
        );
        assert_eq!(
            data_of(r#","datacontenttype":"text/plain","data":"hi""#),
            Bytes::from("hi")
        );
        assert_eq!(
            data_of(r#","data_base64":"AAH/""#),
            Bytes::from(&b"\x00\x01\xff"[..])
        );
        let both = format!("{{{BASE},\"data\":1,\"data_base64\":\"AA==\"}}");
        assert_eq!(
            decode(both.as_bytes()).unwrap_err().attribute.as_deref(),
            Some("data")
        );
        let not_text = format!("{{{BASE},\"datacontenttype\":\"text/plain\",\"data\":{{}}}}");
        assert_eq!(
            decode(not_text.as_bytes())
                .unwrap_err()
                .attribute
                .as_deref(),
            Some("data")
        );
    }

    #[test]
    fn each_fault_names_its_attribute() {
        let cases = [
            (
                r#"{"specversion":"1.0","source":"/s","type":"t"}"#.to_owned(),
                Some("id"),
            ),
            (
                r#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#.to_owned(),
                Some("specversion"),
            ),
            (format!("{{{BASE},\"id\":\"2\"}}"), Some("id")),
            (format!("{{{BASE},\"ext\":3.5}}"), Some("ext")),
            (format!("{{{BASE},\"ext\":{{}}}}"), Some("ext")),
            (format!("{{{BASE},\"big\":1099511627776}}"), Some("big")),
            (
                format!("{{{BASE},\"time\":\"2020-06-01T12:00:00\"}}"),
                Some("time"),
            ),
            (format!("{{{BASE},\"time\":1234}}"), Some("time")),
            (
                format!("{{{BASE},\"dataschema\":\"schema.json\"}}"),
                Some("dataschema"),
            ),
            (
                format!("{{{BASE},\"datacontenttype\":\"not a media type;;\"}}"),
                Some("datacontenttype"),
            ),
            (format!("{{{BASE},\"ext\":\"a\\u0000b\"}}"), Some("ext")),
            ("hi".to_owned(), None),
            ("[1]".to_owned(), None),
            (format!("{{{BASE}}} trailing"), None),
        ];
        for (body, attribute) in cases {
            let err = decode(body.as_bytes()).unwrap_err();
            assert_eq!(err.attribute.as_deref(), attribute, "{body}: {err}");
        }
        // `null` is an absent attribute.
        assert!(decode(format!("{{{BASE},\"ext\":null}}").as_bytes()).is_ok());
    }

    #[test]
    fn an_event_round_trips_with_its_data_text_unchanged() {
        for (content_type, data) in [
            (
                Some("application/json"),
                &br#"{"k": [1, 2.50], "a": 123456789012345678901234567890}"#[..],
            ),
            (None, &br#"{"z":1,"a":2}"#[..]),
            (Some("text/plain"), &b"plain text"[..]),
            (Some("application/octet-stream"), &b"\x00\x01\xff"[..]),
            (None, &b"\x00 not json"[..]),
        ] {
            let mut message = Message::new("s", data.to_vec())
                .with_metadata("ce-specversion", "1.0")
                .with_metadata("ce-id", "9")
                .with_metadata("ce-source", "/s")
                .with_metadata("ce-type", "t")
                .with_metadata("ce-count", "5");
            message.content_type = content_type.map(str::to_owned);
            let event = from_message(&message).unwrap().unwrap();
            let encoded = encode(&event).unwrap();
            serde_json::from_slice::<Json>(&encoded).unwrap();
            let back = decode(&encoded).unwrap();
            assert_eq!(
                to_message("s".into(), None, &back, []),
                canonical(message).unwrap(),
                "{}",
                String::from_utf8_lossy(&encoded)
            );
        }
    }
}
