//! The `jwt` custom section: finding it, removing it, and the hash of what remains.
//!
//! Only top-level sections count. A `jwt` section inside a nested module or component is
//! ordinary content: it stays in place and is part of the hashed bytes.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use wasm_encoder::Encode as _;
use wasmparser::{Parser, Payload};

/// Name of the custom section that carries the claims token.
pub const JWT_SECTION: &str = "jwt";

/// A component or core module split into its top-level sections.
pub(crate) struct Sections<'a> {
    /// The 8-byte preamble (magic and version), copied verbatim.
    header: &'a [u8],
    /// Every top-level section in order, `jwt` sections included.
    sections: Vec<Section<'a>>,
}

/// One top-level section: its id and contents (after the size), as read.
struct Section<'a> {
    id: u8,
    data: &'a [u8],
    /// The contents of a `jwt` section after its name, when this is one.
    jwt: Option<&'a [u8]>,
}

impl<'a> Sections<'a> {
    /// Parses the top-level structure, refusing bytes that are not a component or module.
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Sections<'a>> {
        let mut header = None;
        let mut sections = Vec::new();
        for payload in top_level(bytes) {
            let payload = payload?;
            if let Payload::Version { range, .. } = &payload {
                header = bytes.get(range.clone());
            }
            if let Some((id, range)) = payload.as_section() {
                let data = bytes.get(range).ok_or_else(|| Error::InvalidComponent {
                    reason: "a section extends past the end".into(),
                })?;
                let jwt = match &payload {
                    Payload::CustomSection(c) if c.name() == JWT_SECTION => Some(c.data()),
                    _ => None,
                };
                sections.push(Section { id, data, jwt });
            }
        }
        let header = header.ok_or_else(|| Error::InvalidComponent {
            reason: "no WebAssembly header".into(),
        })?;
        Ok(Sections { header, sections })
    }

    /// The bytes with every top-level `jwt` section left out, all else in order.
    pub(crate) fn stripped(&self) -> Vec<u8> {
        let size = self
            .sections
            .iter()
            .map(|s| s.data.len() + 6)
            .sum::<usize>();
        let mut out = Vec::with_capacity(self.header.len() + size);
        out.extend_from_slice(self.header);
        for section in self.sections.iter().filter(|s| s.jwt.is_none()) {
            out.push(section.id);
            wasm_encoder::RawSection {
                id: section.id,
                data: section.data,
            }
            .encode(&mut out);
        }
        out
    }

    /// The token text of the one top-level `jwt` section, if there is one.
    pub(crate) fn token(&self) -> Result<Option<&'a str>> {
        let mut found = self.sections.iter().filter_map(|s| s.jwt);
        let Some(first) = found.next() else {
            return Ok(None);
        };
        let extra = found.count();
        if extra > 0 {
            return Err(Error::malformed(format!(
                "{} `{JWT_SECTION}` sections; a signed component has exactly one",
                extra + 1
            )));
        }
        std::str::from_utf8(first)
            .map(Some)
            .map_err(|e| Error::malformed(format!("the `{JWT_SECTION}` section is not UTF-8: {e}")))
    }
}

/// The payloads of the top-level component or module, skipping what nested ones contain.
///
/// A nested module or component still appears as one [`Payload::ModuleSection`] or
/// [`Payload::ComponentSection`]; its own sections, and the `End` closing it, are skipped.
pub(crate) fn top_level(bytes: &[u8]) -> impl Iterator<Item = Result<Payload<'_>>> {
    let mut depth = 0usize;
    Parser::new(0).parse_all(bytes).filter_map(move |payload| {
        let payload = match payload {
            Ok(payload) => payload,
            Err(e) => {
                return Some(Err(Error::InvalidComponent {
                    reason: e.to_string(),
                }));
            }
        };
        let at_top = depth == 0;
        match payload {
            Payload::ModuleSection { .. } | Payload::ComponentSection { .. } => depth += 1,
            Payload::End(_) if !at_top => depth -= 1,
            _ => {}
        }
        at_top.then_some(Ok(payload))
    })
}

/// Appends a `jwt` custom section holding `token` to already stripped bytes.
pub(crate) fn append_token(stripped: &mut Vec<u8>, token: &str) {
    stripped.push(u8::from(wasm_encoder::SectionId::Custom));
    wasm_encoder::CustomSection {
        name: JWT_SECTION.into(),
        data: token.as_bytes().into(),
    }
    .encode(stripped);
}

/// Lowercase hex SHA-256 of bytes, the form `wasmgate.hash` takes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Removes every top-level `jwt` section and keeps all other sections in order.
///
/// Unsigned input comes back byte for byte, provided its section sizes use the shortest
/// LEB128 encoding, as every standard encoder writes them.
pub fn strip(component: &[u8]) -> Result<Vec<u8>> {
    Ok(Sections::parse(component)?.stripped())
}

/// The hash a signature covers: lowercase hex SHA-256 of [`strip`]`(component)`.
pub fn module_hash(component: &[u8]) -> Result<String> {
    Ok(sha256_hex(&strip(component)?))
}

/// The raw token text in the component's top-level `jwt` section, `None` when it has none.
///
/// More than one such section, or one that is not UTF-8, is [`Error::Malformed`].
pub fn extract(component: &[u8]) -> Result<Option<String>> {
    Ok(Sections::parse(component)?.token()?.map(str::to_owned))
}

#[cfg(test)]
mod tests;
