//! CloudEvents: one event model, mapped to and from each wire form by its specification.
//!
//! The model is [`Event`] of the official Rust SDK (`cloudevents-sdk`, CloudEvents 1.0). Every
//! wire form is read into it and written from it:
//!
//! | wire form | read | written |
//! | --- | --- | --- |
//! | HTTP binary mode (`ce-*` headers, [`http_binding`]) | `POST /publish` | — |
//! | HTTP structured mode, JSON format | `POST /publish` | — |
//! | NATS structured mode, [`protobuf`] format | yes | yes (default) |
//! | NATS structured mode, [`json`] format | yes | with `event_format = "json"` |
//! | NATS binary mode (`ce-*` headers) | yes | — |
//!
//! Inside the gateway, on every bus, an event travels as a [`Message`] whose metadata holds its
//! attributes as `ce-NAME` pairs in canonical string form ([`to_message`]); that is also what a
//! guest sees, so the same event looks the same to a guest whatever the bus and the wire form:
//! `ce-specversion`, `ce-id`, `ce-source`, `ce-type`, then `ce-subject`, `ce-time`,
//! `ce-dataschema` when set, then the extensions sorted by name, then any metadata that is not a
//! CloudEvents attribute (such as a dead letter's `wasmgate-error`). `datacontenttype` is the
//! message's content type. Canonical strings follow the CloudEvents type system (spec §"Type
//! System"): a Timestamp is RFC 3339 in UTC with `Z` and 0, 3, 6 or 9 fraction digits, an
//! Integer is decimal, a Boolean `true`/`false`, Binary is standard Base64 (RFC 4648 §4).
//!
//! A message with no `ce-` metadata is a plain message and passes untouched. One with any is an
//! event and must be a valid one: [`from_message`] refuses it, naming the attribute, rather than
//! repair it (a missing `id` is never invented).

pub mod http_binding;
pub mod json;
pub mod media_type;
pub mod protobuf;

use super::bus::Message;
use base64::Engine as _;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
pub use cloudevents::Event;
use cloudevents::event::{Data, ExtensionValue};
use cloudevents::{AttributesReader, AttributesWriter, EventBuilder as _, EventBuilderV10};

/// The only CloudEvents version there is since 2019, and the only one accepted.
pub const SPEC_VERSION: &str = "1.0";

/// The prefix of metadata keys that carry CloudEvents attributes (as in the HTTP binding's
/// binary mode).
pub const PREFIX: &str = "ce-";

/// Longest attribute name accepted. The spec says names SHOULD NOT exceed 20 characters; longer
/// ones are accepted up to this bound so a producer that ignores the SHOULD still interoperates.
pub const MAX_NAME_LEN: usize = 64;

/// An event refused: which attribute is at fault, when one is, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct InvalidEvent {
    /// The CloudEvents attribute at fault (`id`, `source`, `time`, …), if the fault is one's.
    pub attribute: Option<String>,
    /// What is wrong and how to fix it.
    pub reason: String,
}

impl InvalidEvent {
    /// A fault of attribute `name`.
    pub fn attribute(name: &str, reason: impl Into<String>) -> Self {
        InvalidEvent {
            attribute: Some(name.to_owned()),
            reason: reason.into(),
        }
    }

    /// A fault of the event as a whole (a body that does not parse).
    pub fn whole(reason: impl Into<String>) -> Self {
        InvalidEvent {
            attribute: None,
            reason: reason.into(),
        }
    }

    fn missing(name: &str) -> Self {
        Self::attribute(
            name,
            format!("the required CloudEvents attribute `{name}` is missing or empty: set it"),
        )
    }
}

/// An event format (CloudEvents "Event Formats"), as NATS structured mode carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The Protobuf Event Format.
    Protobuf,
    /// The JSON Event Format.
    Json,
}

impl Format {
    /// The media type a transport labels an event of this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Protobuf => protobuf::CONTENT_TYPE,
            Format::Json => json::CONTENT_TYPE,
        }
    }

    /// The format a `Content-Type` names, compared as a media type (RFC 9110 §8.3.1: type and
    /// subtype case-insensitive, parameters ignored); `None` for anything else.
    pub fn of(content_type: &str) -> Option<Format> {
        Format::of_essence(&media_type::essence(content_type)?)
    }

    /// The format a media type's lowercased `type/subtype` ([`media_type::essence`]) names.
    pub fn of_essence(essence: &str) -> Option<Format> {
        match essence {
            protobuf::CONTENT_TYPE => Some(Format::Protobuf),
            json::CONTENT_TYPE => Some(Format::Json),
            _ => None,
        }
    }

    /// `event` in this format.
    pub fn encode(self, event: &Event) -> Result<Bytes, InvalidEvent> {
        match self {
            Format::Protobuf => Ok(protobuf::encode(event)),
            Format::Json => json::encode(event),
        }
    }

    /// The event in `payload`, refused when it does not decode or is not a valid event.
    pub fn decode(self, payload: &[u8]) -> Result<Event, InvalidEvent> {
        match self {
            Format::Protobuf => protobuf::decode(payload),
            Format::Json => json::decode(payload),
        }
    }
}

/// Whether `key` names a CloudEvents attribute (`ce-` prefix, any case).
pub fn is_attribute_key(key: &str) -> bool {
    key.get(..PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PREFIX))
}

/// Checks an attribute name: lowercase ASCII letters and digits (spec §"Naming Conventions").
pub fn check_name(name: &str) -> Result<(), InvalidEvent> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(InvalidEvent::attribute(
            name,
            format!(
                "`{name}` is not a CloudEvents attribute name: use 1 to {MAX_NAME_LEN} lowercase ASCII letters and digits"
            ),
        ))
    }
}

/// One attribute read from a wire form, before it is checked: its name and its value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A canonical string (binary mode headers, metadata, JSON strings).
    Text(String),
    /// A Boolean.
    Boolean(bool),
    /// An Integer.
    Integer(i64),
    /// A Timestamp.
    Time(DateTime<Utc>),
}

/// Builds an event from its attributes (names without `ce-`) and data, checking each: the four
/// required ones present and non-empty, `specversion` 1.0, `time` RFC 3339, `dataschema` an
/// absolute URI, names well-formed, none given twice.
pub fn build(
    attributes: impl IntoIterator<Item = (String, Value)>,
    content_type: Option<String>,
    data: Option<Data>,
) -> Result<Event, InvalidEvent> {
    let mut seen = std::collections::HashSet::new();
    let mut spec_version = None;
    let mut builder = EventBuilderV10::new();
    let (mut id, mut source, mut ty) = (None, None, None);
    let (mut subject, mut when, mut schema) = (None, None, None);
    for (name, value) in attributes {
        check_name(&name)?;
        if let Value::Text(text) = &value {
            check_string(&name, text)?;
        }
        if !seen.insert(name.clone()) {
            return Err(InvalidEvent::attribute(
                &name,
                format!("the attribute `{name}` is given twice: give it once"),
            ));
        }
        match name.as_str() {
            "specversion" => spec_version = Some(text(&name, value)?),
            "id" => id = Some(text(&name, value)?),
            "source" => {
                let reference = text(&name, value)?;
                check_uri_reference("source", &reference)?;
                source = Some(reference);
            }
            "type" => ty = Some(text(&name, value)?),
            "subject" => subject = Some(text(&name, value)?),
            "time" => when = Some(time("time", value)?),
            "dataschema" => {
                let uri = text(&name, value)?;
                let url = url::Url::parse(&uri).map_err(|e| {
                    InvalidEvent::attribute(
                        "dataschema",
                        format!("`dataschema` {uri:?} is not an absolute URI (RFC 3986 §4.3): {e}"),
                    )
                })?;
                schema = Some(url);
            }
            "datacontenttype" => {
                return Err(InvalidEvent::attribute(
                    "datacontenttype",
                    "`datacontenttype` travels as the content type (the Content-Type header, or the message's content type), not as a `ce-` attribute",
                ));
            }
            "data" | "data_base64" => {
                return Err(InvalidEvent::attribute(
                    &name,
                    format!("`{name}` is the event's data, not an attribute"),
                ));
            }
            _ => {
                builder = builder.extension(
                    &name,
                    match value {
                        Value::Text(s) => ExtensionValue::String(s),
                        Value::Boolean(b) => ExtensionValue::Boolean(b),
                        Value::Integer(i) => ExtensionValue::Integer(integer(&name, i)?),
                        Value::Time(t) => {
                            ExtensionValue::String(canonical_time(&in_range(&name, t)?))
                        }
                    },
                );
            }
        }
    }
    match spec_version.as_deref() {
        None | Some("") => return Err(InvalidEvent::missing("specversion")),
        Some(SPEC_VERSION) => {}
        Some(other) => {
            return Err(InvalidEvent::attribute(
                "specversion",
                format!(
                    "`specversion` {other:?} is not supported: send CloudEvents {SPEC_VERSION}"
                ),
            ));
        }
    }
    let id = id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| InvalidEvent::missing("id"))?;
    let source = source
        .filter(|s| !s.is_empty())
        .ok_or_else(|| InvalidEvent::missing("source"))?;
    let ty = ty
        .filter(|s| !s.is_empty())
        .ok_or_else(|| InvalidEvent::missing("type"))?;
    builder = builder.id(id).source(source).ty(ty);
    let mut event = builder
        .build()
        .map_err(|e| InvalidEvent::whole(e.to_string()))?;
    event.set_subject(subject);
    event.set_time(when);
    event.set_dataschema(schema);
    if let Some(content_type) = &content_type
        && media_type::essence(content_type).is_none()
    {
        return Err(InvalidEvent::attribute(
            "datacontenttype",
            format!(
                "`datacontenttype` {content_type:?} is not a media type (RFC 9110 §8.3.1): send e.g. application/json"
            ),
        ));
    }
    event.set_datacontenttype(content_type);
    if let Some(data) = data {
        event.set_data_unchecked(data);
    }
    Ok(event)
}

fn text(name: &str, value: Value) -> Result<String, InvalidEvent> {
    match value {
        Value::Text(s) => Ok(s),
        other => Err(InvalidEvent::attribute(
            name,
            format!("`{name}` must be a String, not {other:?}"),
        )),
    }
}

/// The CloudEvents Integer range: a signed 32-bit integer (spec §"Type System").
fn integer(name: &str, value: i64) -> Result<i64, InvalidEvent> {
    if i32::try_from(value).is_ok() {
        Ok(value)
    } else {
        Err(InvalidEvent::attribute(
            name,
            format!(
                "`{name}` {value} is outside the CloudEvents Integer range (a signed 32-bit integer): send it as a String"
            ),
        ))
    }
}

/// Checks a String value: the CloudEvents String type excludes the control characters U+0000 to
/// U+001F and U+007F to U+009F (spec §"Type System").
pub fn check_string(name: &str, value: &str) -> Result<(), InvalidEvent> {
    match value.chars().find(|c| c.is_control()) {
        None => Ok(()),
        Some(c) => Err(InvalidEvent::attribute(
            name,
            format!(
                "`{name}` contains the control character U+{:04X}, which a CloudEvents String may not hold: remove it",
                u32::from(c)
            ),
        )),
    }
}

/// Checks a URI-reference (RFC 3986 §4.1): it must resolve against a base URI.
pub fn check_uri_reference(name: &str, value: &str) -> Result<(), InvalidEvent> {
    let base =
        url::Url::parse("https://base.invalid/").map_err(|e| InvalidEvent::whole(e.to_string()))?;
    base.join(value).map(|_| ()).map_err(|e| {
        InvalidEvent::attribute(
            name,
            format!("`{name}` {value:?} is not a URI-reference (RFC 3986 §4.1): {e}"),
        )
    })
}

/// First and last instants an RFC 3339 timestamp and a `google.protobuf.Timestamp` both hold:
/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z (RFC 3339 §5.6, timestamp.proto).
const MIN_SECONDS: i64 = -62_135_596_800;
const MAX_SECONDS: i64 = 253_402_300_799;

/// `time` if every format can carry it, a leap second (`23:59:60`) folded into the last
/// nanosecond of its minute so that it reads the same after protobuf's smeared Timestamp.
pub(super) fn in_range(name: &str, time: DateTime<Utc>) -> Result<DateTime<Utc>, InvalidEvent> {
    use chrono::Timelike as _;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&time.timestamp()) {
        return Err(InvalidEvent::attribute(
            name,
            format!(
                "`{name}` {} is outside the years 0001 to 9999 that RFC 3339 and protobuf Timestamps hold",
                canonical_time(&time)
            ),
        ));
    }
    Ok(if time.nanosecond() >= 1_000_000_000 {
        time.with_nanosecond(999_999_999).unwrap_or(time)
    } else {
        time
    })
}

fn time(name: &str, value: Value) -> Result<DateTime<Utc>, InvalidEvent> {
    let parsed = match value {
        Value::Time(t) => t,
        Value::Text(s) => DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                InvalidEvent::attribute(
                    name,
                    format!("`{name}` {s:?} is not an RFC 3339 timestamp ({e}): send e.g. 2026-11-30T10:00:00Z"),
                )
            })?,
        other => {
            return Err(InvalidEvent::attribute(
                name,
                format!("`{name}` must be a Timestamp, not {other:?}"),
            ));
        }
    };
    in_range(name, parsed)
}

/// A Timestamp's canonical string: RFC 3339, UTC with `Z`, 0/3/6/9 fraction digits.
pub fn canonical_time(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Binary data's canonical string: standard Base64 with padding (RFC 4648 §4).
pub fn canonical_bytes(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The event a message carries, read from its `ce-` metadata (names lowercased), content type
/// and data; `Ok(None)` for a plain message (no `ce-` metadata).
pub fn from_message(message: &Message) -> Result<Option<Event>, InvalidEvent> {
    if !message.metadata.iter().any(|(k, _)| is_attribute_key(k)) {
        return Ok(None);
    }
    let attributes = message
        .metadata
        .iter()
        .filter(|(k, _)| is_attribute_key(k))
        .map(|(k, v)| {
            (
                k[PREFIX.len()..].to_ascii_lowercase(),
                Value::Text(v.clone()),
            )
        });
    let data = (!message.data.is_empty()).then(|| Data::Binary(message.data.to_vec()));
    build(attributes, message.content_type.clone(), data).map(Some)
}

/// The message carrying `event` on `subject`, its attributes as canonical `ce-` metadata (in the
/// order of the module docs) followed by `other` metadata, its content type `datacontenttype`
/// and its data as bytes (JSON data serialized compactly).
pub fn to_message(
    subject: String,
    reply_to: Option<String>,
    event: &Event,
    other: impl IntoIterator<Item = (String, String)>,
) -> Message {
    let mut metadata = vec![
        ("ce-specversion".to_owned(), SPEC_VERSION.to_owned()),
        ("ce-id".to_owned(), event.id().to_owned()),
        ("ce-source".to_owned(), event.source().to_string()),
        ("ce-type".to_owned(), event.ty().to_owned()),
    ];
    if let Some(subject) = event.subject() {
        metadata.push(("ce-subject".to_owned(), subject.to_owned()));
    }
    if let Some(time) = event.time() {
        metadata.push(("ce-time".to_owned(), canonical_time(time)));
    }
    if let Some(schema) = event.dataschema() {
        metadata.push(("ce-dataschema".to_owned(), schema.to_string()));
    }
    let mut extensions: Vec<(&str, &ExtensionValue)> = event.iter_extensions().collect();
    extensions.sort_by(|a, b| a.0.cmp(b.0));
    for (name, value) in extensions {
        metadata.push((format!("{PREFIX}{name}"), extension_text(value)));
    }
    metadata.extend(other);
    Message {
        subject,
        reply_to,
        content_type: event.datacontenttype().map(str::to_owned),
        metadata,
        data: data_bytes(event.data()),
    }
}

/// An extension value's canonical string.
pub fn extension_text(value: &ExtensionValue) -> String {
    match value {
        ExtensionValue::String(s) => s.clone(),
        ExtensionValue::Boolean(b) => b.to_string(),
        ExtensionValue::Integer(i) => i.to_string(),
    }
}

/// Event data as bytes: binary as is, text as UTF-8, JSON serialized compactly.
pub fn data_bytes(data: Option<&Data>) -> Bytes {
    match data {
        None => Bytes::new(),
        Some(Data::Binary(b)) => Bytes::copy_from_slice(b),
        Some(Data::String(s)) => Bytes::copy_from_slice(s.as_bytes()),
        Some(Data::Json(v)) => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
    }
}

/// `message` with its event attributes in canonical form ([`to_message`]), or unchanged when
/// it is a plain message; refused when its `ce-` metadata is not a valid event. Every way into
/// the bus (a publish over HTTP, a guest's send, request or reply) goes through this, so the
/// bus carries only valid events and a guest sees the same metadata on every bus.
pub fn canonical(message: Message) -> Result<Message, InvalidEvent> {
    match from_message(&message)? {
        None => Ok(message),
        Some(event) => {
            let other: Vec<(String, String)> = message
                .metadata
                .into_iter()
                .filter(|(k, _)| !is_attribute_key(k))
                .collect();
            Ok(to_message(message.subject, message.reply_to, &event, other))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event_message() -> Message {
        Message::new("orders", "payload")
            .with_content_type("text/plain")
            .with_metadata("ce-type", "order.created")
            .with_metadata("ce-source", "/shop")
            .with_metadata("ce-tenant", "acme")
            .with_metadata("ce-id", "42")
            .with_metadata("ce-specversion", "1.0")
            .with_metadata("ce-time", "2026-11-30T12:00:00.5+02:00")
            .with_metadata("wasmgate-error", "kept")
    }

    #[test]
    fn an_event_message_becomes_canonical_in_a_fixed_order() {
        let message = canonical(event_message()).unwrap();
        let keys: Vec<(&str, &str)> = message
            .metadata
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            keys,
            [
                ("ce-specversion", "1.0"),
                ("ce-id", "42"),
                ("ce-source", "/shop"),
                ("ce-type", "order.created"),
                ("ce-time", "2026-11-30T10:00:00.500Z"),
                ("ce-tenant", "acme"),
                ("wasmgate-error", "kept"),
            ]
        );
        assert_eq!(message.content_type.as_deref(), Some("text/plain"));
        assert_eq!(message.data, Bytes::from("payload"));
        // Canonical is a fixed point.
        assert_eq!(canonical(message.clone()).unwrap(), message);
    }

    #[test]
    fn a_plain_message_passes_untouched() {
        let plain = Message::new("s", "x").with_metadata("trace", "1");
        assert_eq!(canonical(plain.clone()).unwrap(), plain);
    }

    #[test]
    fn each_missing_required_attribute_is_named() {
        for missing in ["id", "source", "type", "specversion"] {
            let mut message = event_message();
            message
                .metadata
                .retain(|(k, _)| k != &format!("ce-{missing}"));
            let err = canonical(message).unwrap_err();
            assert_eq!(err.attribute.as_deref(), Some(missing), "{err}");
        }
        let mut empty_id = event_message();
        for (k, v) in &mut empty_id.metadata {
            if k == "ce-id" {
                v.clear();
            }
        }
        assert_eq!(
            canonical(empty_id).unwrap_err().attribute.as_deref(),
            Some("id")
        );
    }

    #[test]
    fn bad_values_and_names_are_refused_not_repaired() {
        let cases = [
            ("ce-time", "yesterday", "time"),
            ("ce-specversion", "0.3", "specversion"),
            ("ce-dataschema", "relative/path", "dataschema"),
            ("ce-Bad_Name", "x", "bad_name"),
            ("ce-id", "again", "id"),
            ("ce-datacontenttype", "text/plain", "datacontenttype"),
            ("ce-time", "0000-01-01T00:00:00Z", "time"),
            ("ce-ext", "a\u{0}b", "ext"),
            ("ce-ext", "line\nbreak", "ext"),
            ("ce-source", "http://[::1", "source"),
        ];
        for (key, value, attribute) in cases {
            let mut message = event_message();
            message.metadata.retain(|(k, _)| k != key || key == "ce-id");
            message.metadata.push((key.to_owned(), value.to_owned()));
            let err = canonical(message).unwrap_err();
            assert_eq!(err.attribute.as_deref(), Some(attribute), "{key}: {err}");
        }
    }

    #[test]
    fn a_leap_second_reads_the_same_in_every_format_and_content_types_are_media_types() {
        let mut message = event_message();
        for (k, v) in &mut message.metadata {
            if k == "ce-time" {
                *v = "2016-12-31T23:59:60Z".into();
            }
        }
        let canonical_message = canonical(message.clone()).unwrap();
        let time = |m: &Message| {
            m.metadata
                .iter()
                .find(|(k, _)| k == "ce-time")
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            time(&canonical_message).as_deref(),
            Some("2016-12-31T23:59:59.999999999Z")
        );
        let event = from_message(&canonical_message).unwrap().unwrap();
        for format in [Format::Protobuf, Format::Json] {
            let back = format.decode(&format.encode(&event).unwrap()).unwrap();
            assert_eq!(
                to_message(
                    "orders".into(),
                    None,
                    &back,
                    [("wasmgate-error".into(), "kept".into())]
                ),
                canonical_message,
                "{format:?}"
            );
        }
        message.content_type = Some("not a media type;;;".into());
        assert_eq!(
            canonical(message).unwrap_err().attribute.as_deref(),
            Some("datacontenttype")
        );
    }

    #[test]
    fn formats_are_recognised_as_media_types() {
        assert_eq!(
            Format::of("Application/CloudEvents+Protobuf; charset=utf-8"),
            Some(Format::Protobuf)
        );
        assert_eq!(
            Format::of("application/cloudevents+json"),
            Some(Format::Json)
        );
        assert_eq!(Format::of("application/cloudevents+protobufx"), None);
        assert_eq!(Format::of("text/plain"), None);
    }
}
