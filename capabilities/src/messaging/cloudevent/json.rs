//! The CloudEvents JSON Event Format 1.0 (`application/cloudevents+json`), through the official
//! SDK's serde support for the attributes and extensions. The data members are handled here, as
//! the format's §3.1 says: `data_base64` is binary; `data` is JSON, or text when it is a JSON
//! string and `datacontenttype` is not JSON; an absent `datacontenttype` means JSON.

use super::media_type;
use super::{Event, InvalidEvent, check};
use base64::Engine as _;
use bytes::Bytes;
use cloudevents::AttributesReader;
use cloudevents::event::Data;
use serde_json::Value as Json;

/// The media type of one event in the JSON format (JSON format §4).
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// The event in a JSON document; refused, with the attribute named when one is at fault, if
/// it is not a JSON object, misses a required attribute or has a value of the wrong type.
pub fn decode(payload: &[u8]) -> Result<Event, InvalidEvent> {
    let document: Json = serde_json::from_slice(payload).map_err(|e| {
        InvalidEvent::whole(format!(
            "the body is not JSON ({e}): a structured-mode event in the JSON format is one JSON object"
        ))
    })?;
    let Json::Object(mut members) = document else {
        return Err(InvalidEvent::whole(
            "the body is JSON but not an object: a structured-mode event in the JSON format is one JSON object",
        ));
    };
    for required in ["specversion", "id", "source", "type"] {
        match members.get(required) {
            Some(Json::String(s)) if !s.is_empty() => {}
            Some(Json::String(_)) | None => {
                return Err(InvalidEvent::attribute(
                    required,
                    format!(
                        "the required CloudEvents attribute `{required}` is missing or empty: set it"
                    ),
                ));
            }
            Some(other) => {
                return Err(InvalidEvent::attribute(
                    required,
                    format!("`{required}` must be a JSON string, not {other}"),
                ));
            }
        }
    }
    if members.get("specversion").and_then(Json::as_str) != Some(super::SPEC_VERSION) {
        return Err(InvalidEvent::attribute(
            "specversion",
            format!(
                "`specversion` {} is not supported: send CloudEvents {}",
                members["specversion"],
                super::SPEC_VERSION
            ),
        ));
    }
    let data = members.remove("data");
    let data_base64 = members.remove("data_base64");
    for name in members.keys() {
        super::check_name(name)?;
    }
    let mut event: Event = serde_json::from_value(Json::Object(members))
        .map_err(|e| InvalidEvent::whole(format!("the event's attributes do not parse: {e}")))?;
    let json_data = event.datacontenttype().is_none_or(media_type::is_json);
    let data = match (data, data_base64) {
        (Some(_), Some(_)) => {
            return Err(InvalidEvent::attribute(
                "data",
                "an event has either `data` or `data_base64`, not both",
            ));
        }
        (None, Some(Json::String(encoded))) => Some(Data::Binary(
            base64::engine::general_purpose::STANDARD
                .decode(encoded.as_bytes())
                .map_err(|e| {
                    InvalidEvent::attribute(
                        "data_base64",
                        format!("`data_base64` is not Base64 (RFC 4648 §4): {e}"),
                    )
                })?,
        )),
        (None, Some(other)) => {
            return Err(InvalidEvent::attribute(
                "data_base64",
                format!("`data_base64` must be a JSON string, not {other}"),
            ));
        }
        (Some(Json::String(text)), None) if !json_data => Some(Data::String(text)),
        (Some(value), None) => Some(Data::Json(value)),
        (None, None) => None,
    };
    if let Some(data) = data {
        event.set_data_unchecked(data);
    }
    check(event)
}

/// `event` in the JSON format. Data goes as JSON under a JSON content type when it parses as
/// JSON, as a string under a text content type when it is UTF-8, else as `data_base64`.
pub fn encode(event: &Event) -> Result<Bytes, InvalidEvent> {
    let mut event = event.clone();
    let content_type = event.datacontenttype().map(str::to_owned);
    if let Some(Data::Binary(bytes)) = event.data() {
        let ct = content_type.as_deref().unwrap_or("");
        let as_json = media_type::is_json(ct)
            .then(|| serde_json::from_slice::<Json>(bytes).ok())
            .flatten();
        let replacement = match as_json {
            Some(json) => Some(Data::Json(json)),
            None if media_type::is_text(ct) => std::str::from_utf8(bytes)
                .ok()
                .map(|text| Data::String(text.to_owned())),
            None => None,
        };
        if let Some(replacement) = replacement {
            event.set_data_unchecked(replacement);
        }
    }
    serde_json::to_vec(&event)
        .map(Bytes::from)
        .map_err(|e| InvalidEvent::whole(format!("the event cannot be written as JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_members_follow_the_format() {
        let base = r#""specversion":"1.0","id":"1","source":"/s","type":"t""#;
        let decode_data = |rest: &str| {
            let event = decode(format!("{{{base}{rest}}}").as_bytes()).unwrap();
            super::super::data_bytes(event.data())
        };
        assert_eq!(
            decode_data(r#","data":{"b":1,"a":2}"#),
            Bytes::from(r#"{"a":2,"b":1}"#)
        );
        assert_eq!(
            decode_data(r#","datacontenttype":"text/plain","data":"hi""#),
            Bytes::from("hi")
        );
        assert_eq!(
            decode_data(r#","data_base64":"AAH/""#),
            Bytes::from(&b"\x00\x01\xff"[..])
        );
        assert!(
            decode(format!("{{{base},\"data\":1,\"data_base64\":\"AA==\"}}").as_bytes()).is_err()
        );
    }

    #[test]
    fn required_attributes_are_named_when_missing() {
        let err = decode(br#"{"specversion":"1.0","source":"/s","type":"t"}"#).unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("id"));
        let err =
            decode(br#"{"specversion":"0.3","id":"1","source":"/s","type":"t"}"#).unwrap_err();
        assert_eq!(err.attribute.as_deref(), Some("specversion"));
        assert_eq!(decode(b"hi").unwrap_err().attribute, None);
        assert_eq!(decode(b"[1]").unwrap_err().attribute, None);
    }

    #[test]
    fn an_event_round_trips() {
        let message = super::super::Message::new("s", r#"{"k":[1,2]}"#)
            .with_content_type("application/json")
            .with_metadata("ce-specversion", "1.0")
            .with_metadata("ce-id", "9")
            .with_metadata("ce-source", "/s")
            .with_metadata("ce-type", "t")
            .with_metadata("ce-count", "5");
        let event = super::super::from_message(&message).unwrap().unwrap();
        let encoded = encode(&event).unwrap();
        let json: Json = serde_json::from_slice(&encoded).unwrap();
        assert_eq!(json["data"]["k"][1], 2);
        let back = decode(&encoded).unwrap();
        assert_eq!(
            super::super::to_message("s".into(), None, &back, []),
            super::super::canonical(message).unwrap()
        );
    }
}
