//! The SHA-256 of a bearer token, as a manifest lists the tokens that may invoke its function.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Lowercase hex SHA-256 (FIPS 180-4) of a bearer token: 64 characters.
///
/// A manifest stores digests, never tokens, so `GET /functions/NAME` and the registry reveal
/// nothing a caller could present. Make one with `printf %s "$TOKEN" | sha256sum`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenDigest([u8; 32]);

impl TokenDigest {
    /// The 32 digest bytes.
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl TryFrom<String> for TokenDigest {
    type Error = Error;

    /// Parses 64 hex digits (either case), the output of `sha256sum`.
    fn try_from(text: String) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidManifest {
            reason: format!(
                "http.invoke_token_sha256 entry `{}` {reason}: list the SHA-256 of each token as 64 hex digits, e.g. from `printf %s \"$TOKEN\" | sha256sum`",
                crate::shown(&text)
            ),
        };
        if text.len() != 64 {
            return Err(invalid("is not 64 characters long"));
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks_exact(2).enumerate() {
            let digit = |b: u8| (b as char).to_digit(16);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(hi), Some(lo)) => out[i] = (hi * 16 + lo) as u8,
                _ => return Err(invalid("holds a character that is not a hex digit")),
            }
        }
        Ok(TokenDigest(out))
    }
}

impl From<TokenDigest> for String {
    fn from(digest: TokenDigest) -> String {
        digest.to_string()
    }
}

impl fmt::Display for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenDigest({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256sum_output_round_trips_in_lowercase() {
        // sha256("test"), as `printf %s test | sha256sum` prints it.
        let hex = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        let digest = TokenDigest::try_from(hex.to_uppercase()).unwrap();
        assert_eq!(digest.to_string(), hex);
        assert_eq!(digest.bytes()[0], 0x9f);
    }

    #[test]
    fn wrong_lengths_and_non_hex_are_refused_with_how_to_fix_it() {
        for bad in ["", "abc", &"g".repeat(64), &"a".repeat(65), &"é".repeat(32)] {
            let e = TokenDigest::try_from(bad.to_owned()).unwrap_err();
            assert_eq!(e.code(), "invalid_manifest");
            assert!(e.to_string().contains("sha256sum"), "{e}");
        }
    }
}
