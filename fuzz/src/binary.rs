//! A reader and writer of top-level sections, written from the binary format and independent of
//! wasmparser, so it can judge what the claims crate's parser decided.
//!
//! The format at the top level is an 8-byte preamble, then sections: an id byte, a LEB128 `u32`
//! size (at most 5 bytes, padding allowed), and that many content bytes. A custom section's
//! contents start with its name (a LEB128 length and UTF-8 bytes).

use wasm_encoder::Encode as _;

/// Id of a custom section.
const CUSTOM: u8 = 0;

/// One top-level section as read: its id and contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section id.
    pub id: u8,
    /// The contents after the size.
    pub contents: Vec<u8>,
}

impl Section {
    /// The custom section's name, when this is a custom section with a readable one.
    pub fn custom_name(&self) -> Option<&str> {
        if self.id != CUSTOM {
            return None;
        }
        let mut at = 0;
        let len = usize::try_from(read_u32(&self.contents, &mut at)?).ok()?;
        let name = self.contents.get(at..at.checked_add(len)?)?;
        std::str::from_utf8(name).ok()
    }
}

/// A binary split into its preamble and top-level sections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The 8-byte preamble.
    pub header: [u8; 8],
    /// Every top-level section in order.
    pub sections: Vec<Section>,
}

impl Split {
    /// The sections other than custom sections named `name`, in order.
    pub fn without_custom(&self, name: &str) -> Vec<Section> {
        self.sections
            .iter()
            .filter(|s| s.custom_name() != Some(name))
            .cloned()
            .collect()
    }
}

/// Splits `bytes` at the top level; `None` when the framing does not add up.
pub fn split(bytes: &[u8]) -> Option<Split> {
    let header: [u8; 8] = bytes.get(..8)?.try_into().ok()?;
    let mut sections = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        let id = bytes[at];
        at += 1;
        let size = usize::try_from(read_u32(bytes, &mut at)?).ok()?;
        let contents = bytes.get(at..at.checked_add(size)?)?.to_vec();
        at += size;
        sections.push(Section { id, contents });
    }
    Some(Split { header, sections })
}

/// Appends one section to `out`, its size padded with `padding` extra LEB128 bytes.
pub fn frame_section(out: &mut Vec<u8>, id: u8, contents: &[u8], padding: u8) {
    out.push(id);
    let mut size = contents.len() as u64;
    for _ in 0..padding {
        out.push((size & 0x7f) as u8 | 0x80);
        size >>= 7;
    }
    // The last byte holds the rest; when padding covered every bit it is a zero terminator.
    leb128(out, size);
    out.extend_from_slice(contents);
}

/// A custom section's contents: its name, then `data`.
pub fn frame_custom(name: &str, data: &[u8]) -> Vec<u8> {
    let mut contents = Vec::new();
    name.encode(&mut contents);
    contents.extend_from_slice(data);
    contents
}

fn leb128(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 `u32` of at most 5 bytes, as the format allows.
fn read_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value: u64 = 0;
    for i in 0..5 {
        let byte = *bytes.get(*at)?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return u32::try_from(value).ok();
        }
    }
    None
}
