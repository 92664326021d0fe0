//! Fuzzes the CloudEvents readers of `wasmgate-capabilities` (what `POST /publish` and a NATS
//! subscription take from anyone): the protobuf and JSON event formats, a binary-mode header
//! value, and a message's `ce-` metadata. The first input byte picks the reader.
//!
//! Whatever is accepted must be an event every form carries alike: its canonical message is a
//! fixed point of `canonical`, and written in each NATS format and read back it gives the same
//! message. A bug is a panic, or an accepted event that changes on the way through a format (a
//! guest would see it differently on another bus).

#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmgate_capabilities::messaging::Message;
use wasmgate_capabilities::messaging::cloudevent::{self, Format, http_binding};

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let event = match mode % 4 {
        0 => Format::Protobuf.decode(rest).ok(),
        1 => Format::Json.decode(rest).ok(),
        2 => {
            // A binary-mode header value: decoded or refused, never a panic; a decoded value
            // is UTF-8 by type.
            let _ = http_binding::decode_value(rest);
            None
        }
        _ => {
            // `ce-` metadata lines `name=value`, then the data after an empty line.
            let text = String::from_utf8_lossy(rest);
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut message = Message::new("fuzz", body.as_bytes().to_vec());
            for line in head.lines() {
                if let Some((name, value)) = line.split_once('=') {
                    if name == "content-type" {
                        message.content_type = Some(value.to_owned());
                    } else {
                        message
                            .metadata
                            .push((format!("ce-{name}"), value.to_owned()));
                    }
                }
            }
            cloudevent::from_message(&message).ok().flatten()
        }
    };
    let Some(event) = event else {
        return;
    };
    let message = cloudevent::to_message("fuzz".into(), None, &event, []);
    let again = cloudevent::canonical(message.clone());
    assert_eq!(
        again.as_ref(),
        Ok(&message),
        "canonical is not a fixed point"
    );
    for format in [Format::Protobuf, Format::Json] {
        let written = format.encode(&event);
        let Ok(written) = written else {
            panic!("{format:?} cannot write an accepted event: {written:?}");
        };
        let read = format.decode(&written);
        let Ok(read) = read else {
            panic!("{format:?} refuses what it wrote: {read:?}");
        };
        let through = cloudevent::to_message("fuzz".into(), None, &read, []);
        assert_eq!(through, message, "{format:?} changed the event");
    }
});
