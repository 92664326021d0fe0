//! Content digests: how artifacts and modules are named.

use sha2::{Digest as _, Sha256};
use std::fmt;

/// A sha256 digest, shown as `sha256:<64 hex>`; names modules and artifacts on disk.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Hashes `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// The 64 lowercase hex characters, without the `sha256:` prefix (used as a file name).
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Parses `sha256:<hex>` or bare hex, as written by [`Display`](fmt::Display) or [`Digest::hex`].
    pub fn parse(text: &str) -> Option<Self> {
        let hex_part = text.strip_prefix("sha256:").unwrap_or(text);
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut out).ok()?;
        Some(Digest(out))
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_round_trips_through_its_text_forms() {
        let d = Digest::of(b"hello");
        assert_eq!(
            d.to_string(),
            "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        assert_eq!(Digest::parse(&d.to_string()), Some(d));
        assert_eq!(Digest::parse(&d.hex()), Some(d));
    }

    #[test]
    fn malformed_digests_are_refused() {
        assert_eq!(Digest::parse("sha256:xyz"), None);
        assert_eq!(Digest::parse("../../etc/passwd"), None);
        assert_eq!(Digest::parse(""), None);
    }
}
