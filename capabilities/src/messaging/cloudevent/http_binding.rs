//! The CloudEvents HTTP Protocol Binding 1.0, as a receiver: which content mode a request uses
//! (§3.1 binary, §3.2 structured, §3.3 batched) and the decoding of binary-mode `ce-*` header
//! values (§3.1.3.2): first unescaping a double-quoted string (RFC 9110 §5.6.4), then one round
//! of percent-decoding, the result required to be UTF-8.

use super::media_type;
use super::{Event, InvalidEvent, PREFIX, Value, build};
use cloudevents::event::Data;
use http::HeaderMap;

/// What an HTTP request carries.
#[derive(Debug)]
pub enum Content {
    /// One event (binary or structured mode).
    Event(Box<Event>),
    /// A CloudEvents media type this gateway does not read (a batch,
    /// `application/cloudevents-batch+json`, or another format such as `+xml`): its media type.
    Unsupported(String),
    /// No CloudEvent: no `ce-*` header and no CloudEvents media type.
    Plain,
}

/// Reads the CloudEvent of a request with `headers` and `body`: structured mode when the
/// `Content-Type` is a CloudEvents format (compared as a media type), binary mode when any
/// `ce-` header is present, else [`Content::Plain`]. An event that does not decode or misses a
/// required attribute is refused with the attribute named.
pub fn read(headers: &HeaderMap, body: &[u8]) -> Result<Content, InvalidEvent> {
    let content_type = match headers.get(http::header::CONTENT_TYPE) {
        Some(value) => Some(value.to_str().map_err(|_| {
            InvalidEvent::whole("the Content-Type header is not ASCII: send a media type")
        })?),
        None => None,
    };
    if let Some(essence) = content_type.and_then(media_type::essence) {
        if let Some(format) = super::Format::of_essence(&essence) {
            return format.decode(body).map(|e| Content::Event(Box::new(e)));
        }
        if media_type::is_cloudevents(&essence) {
            return Ok(Content::Unsupported(essence));
        }
    }
    let mut attributes = Vec::new();
    for (name, value) in headers {
        let Some(attribute) = name.as_str().strip_prefix(PREFIX) else {
            continue;
        };
        let decoded = decode_value(value.as_bytes()).map_err(|reason| {
            InvalidEvent::attribute(
                attribute,
                format!("the header `{name}` cannot be decoded: {reason}"),
            )
        })?;
        attributes.push((attribute.to_owned(), Value::Text(decoded)));
    }
    if attributes.is_empty() {
        return Ok(Content::Plain);
    }
    let data = (!body.is_empty()).then(|| Data::Binary(body.to_vec()));
    build(attributes, content_type.map(str::to_owned), data).map(|e| Content::Event(Box::new(e)))
}

/// A binary-mode header value decoded: a double-quoted string unescaped, then percent-decoded
/// once (a `%` must start two hexadecimal digits); the bytes must be UTF-8. The reason when
/// they are not.
pub fn decode_value(raw: &[u8]) -> Result<String, String> {
    let unquoted = unquote(raw)?;
    let mut decoded = Vec::with_capacity(unquoted.len());
    let mut bytes = unquoted.iter().copied();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            decoded.push(b);
            continue;
        }
        let hex = [bytes.next(), bytes.next()];
        let digit = |d: Option<u8>| d.and_then(|d| char::from(d).to_digit(16));
        match (digit(hex[0]), digit(hex[1])) {
            (Some(high), Some(low)) => decoded.push(u8::try_from(high * 16 + low).unwrap_or(0)),
            _ => {
                return Err(
                    "a `%` is not followed by two hexadecimal digits: percent-encode a literal `%` as `%25`"
                        .to_owned(),
                );
            }
        }
    }
    String::from_utf8(decoded).map_err(|_| {
        "after percent-decoding it is not UTF-8: percent-encode the UTF-8 bytes of the value (e.g. `é` as `%C3%A9`)".to_owned()
    })
}

/// `raw` without its surrounding double quotes and with `\x` escapes resolved, when it is a
/// quoted-string; as it is otherwise.
fn unquote(raw: &[u8]) -> Result<Vec<u8>, String> {
    let trimmed = raw.trim_ascii();
    let Some(inner) = trimmed
        .strip_prefix(b"\"")
        .and_then(|rest| rest.strip_suffix(b"\""))
        .filter(|_| trimmed.len() >= 2)
    else {
        return Ok(trimmed.to_vec());
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&escaped) => out.push(escaped),
                None => return Err("the quoted string ends with a lone backslash".to_owned()),
            },
            b'"' => return Err("the quoted string has an unescaped `\"` inside".to_owned()),
            _ => out.push(b),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cloudevents::AttributesReader;

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                http::HeaderValue::from_bytes(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn values_are_unquoted_then_percent_decoded_as_utf8() {
        assert_eq!(decode_value(b"/room%201").unwrap(), "/room 1");
        assert_eq!(
            decode_value(b"\"quoted \\\"v\\\"\"").unwrap(),
            "quoted \"v\""
        );
        assert_eq!(decode_value("/café".as_bytes()).unwrap(), "/café");
        assert_eq!(decode_value(b"/caf%C3%A9").unwrap(), "/café");
        assert!(decode_value(b"/caf\xe9").is_err());
        assert!(decode_value(b"/caf%E9").is_err());
        assert!(decode_value(b"\"unterminated \\\"").is_err());
        for bad in [&b"100%"[..], b"%zz", b"%4"] {
            assert!(decode_value(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn binary_mode_reads_every_attribute() {
        let map = headers(&[
            ("ce-specversion", b"1.0"),
            ("ce-id", b"1"),
            ("ce-source", b"/room%201"),
            ("ce-type", b"t"),
            ("content-type", b"text/plain"),
        ]);
        let Content::Event(event) = read(&map, b"hi").unwrap() else {
            panic!("not an event")
        };
        assert_eq!(event.source(), "/room 1");
        assert_eq!(event.datacontenttype(), Some("text/plain"));
    }

    #[test]
    fn a_missing_attribute_and_an_undecodable_value_are_named() {
        let map = headers(&[
            ("ce-specversion", b"1.0"),
            ("ce-id", b"1"),
            ("ce-type", b"t"),
        ]);
        assert_eq!(
            read(&map, b"").unwrap_err().attribute.as_deref(),
            Some("source")
        );
        let map = headers(&[
            ("ce-specversion", b"1.0"),
            ("ce-id", b"1"),
            ("ce-type", b"t"),
            ("ce-source", b"/caf\xe9"),
        ]);
        assert_eq!(
            read(&map, b"").unwrap_err().attribute.as_deref(),
            Some("source")
        );
    }

    #[test]
    fn content_modes_follow_the_media_type() {
        assert!(matches!(read(&headers(&[]), b"x").unwrap(), Content::Plain));
        let batch = headers(&[("content-type", b"Application/CloudEvents-Batch+JSON")]);
        assert!(matches!(
            read(&batch, b"[]").unwrap(),
            Content::Unsupported(_)
        ));
        let xml = headers(&[("content-type", b"application/cloudevents+xml")]);
        assert!(matches!(
            read(&xml, b"<e/>").unwrap(),
            Content::Unsupported(_)
        ));
        let structured = headers(&[(
            "content-type",
            b"application/cloudevents+json; charset=utf-8",
        )]);
        assert!(read(&structured, b"not json").is_err());
        let body = br#"{"specversion":"1.0","id":"7","source":"/s","type":"t","data":{"a":1}}"#;
        let Content::Event(event) = read(&structured, body).unwrap() else {
            panic!("not an event")
        };
        assert_eq!(event.id(), "7");
    }
}
