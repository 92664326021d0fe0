//! The on-disk form of a [`Message`] in the embedded bus's log.
//!
//! A small length-prefixed binary layout rather than JSON, because payloads are bytes and
//! every publish writes one. The first byte is a version so that the layout can change
//! without misreading old logs.

use super::bus::Message;
use super::error::{Error, Result};
use bytes::Bytes;

/// The layout written by [`encode`].
const VERSION: u8 = 1;

/// Serialises `msg` for the log.
pub(crate) fn encode(msg: &Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + msg.subject.len() + msg.data.len());
    out.push(VERSION);
    put_bytes(&mut out, msg.subject.as_bytes());
    put_option(&mut out, msg.reply_to.as_deref());
    put_option(&mut out, msg.content_type.as_deref());
    put_len(&mut out, msg.metadata.len());
    for (key, value) in &msg.metadata {
        put_bytes(&mut out, key.as_bytes());
        put_bytes(&mut out, value.as_bytes());
    }
    put_bytes(&mut out, &msg.data);
    out
}

/// Reads back what [`encode`] wrote; `id` names the record in errors.
pub(crate) fn decode(id: u64, bytes: &[u8]) -> Result<Message> {
    let corrupt = |reason| Error::Corrupt { id, reason };
    let mut r = Reader(bytes);
    if r.take(1).ok_or_else(|| corrupt("empty record"))? != [VERSION] {
        return Err(corrupt("unknown record version"));
    }
    let subject = r.string().ok_or_else(|| corrupt("subject"))?;
    let reply_to = r.option().ok_or_else(|| corrupt("reply-to"))?;
    let content_type = r.option().ok_or_else(|| corrupt("content type"))?;
    let pairs = r.len().ok_or_else(|| corrupt("metadata count"))?;
    let mut metadata = Vec::with_capacity(pairs.min(1024));
    for _ in 0..pairs {
        let key = r.string().ok_or_else(|| corrupt("metadata key"))?;
        let value = r.string().ok_or_else(|| corrupt("metadata value"))?;
        metadata.push((key, value));
    }
    let data = r.bytes().ok_or_else(|| corrupt("data"))?;
    if !r.0.is_empty() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(Message {
        subject,
        reply_to,
        content_type,
        metadata,
        data: Bytes::copy_from_slice(data),
    })
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    // Message parts are far below 4 GiB; a longer one would have been refused by memory first.
    out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

fn put_option(out: &mut Vec<u8>, value: Option<&str>) {
    match value {
        Some(value) => {
            out.push(1);
            put_bytes(out, value.as_bytes());
        }
        None => out.push(0),
    }
}

/// A cursor over a record; each method returns `None` when the record is cut short.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn len(&mut self) -> Option<usize> {
        let raw: [u8; 4] = self.take(4)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(raw)).ok()
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn string(&mut self) -> Option<String> {
        String::from_utf8(self.bytes()?.to_vec()).ok()
    }

    fn option(&mut self) -> Option<Option<String>> {
        match self.take(1)? {
            [0] => Some(None),
            [1] => Some(Some(self.string()?)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_survives_encoding_with_every_field_set() {
        let msg = Message::new("orders.eu", vec![0u8, 1, 2, 255])
            .with_reply_to("_INBOX.1")
            .with_content_type("application/json")
            .with_metadata("ce-id", "1")
            .with_metadata("ce-type", "order.created");
        assert_eq!(decode(7, &encode(&msg)).unwrap(), msg);
        let bare = Message::new("a", Bytes::new());
        assert_eq!(decode(7, &encode(&bare)).unwrap(), bare);
    }

    #[test]
    fn truncated_or_extended_records_are_reported_as_corrupt() {
        let bytes = encode(&Message::new("orders.eu", "payload"));
        for cut in 0..bytes.len() {
            assert_eq!(decode(3, &bytes[..cut]).unwrap_err().code(), "corrupt_log");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(3, &longer).unwrap_err().code(), "corrupt_log");
    }
}
