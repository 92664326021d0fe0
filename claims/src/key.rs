//! Keys: an issuer's Ed25519 [`SigningKey`] and the [`IssuerKey`] a gateway trusts.

use crate::error::{Error, Result, shown};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroizing;

/// Length of an issuer key in bytes: an Ed25519 public key.
const KEY_LEN: usize = 32;

/// Length of an issuer key's text form: 32 bytes in unpadded base64url.
const KEY_TEXT_LEN: usize = 43;

/// The Ed25519 key an issuer signs components with.
///
/// Its `Debug` output shows only the public [`IssuerKey`]; the secret leaves this type only
/// through [`SigningKey::to_pkcs8_pem`], and is zeroed when the key is dropped.
pub struct SigningKey(ed25519_dalek::SigningKey);

impl SigningKey {
    /// Makes a fresh key from the operating system's random number generator.
    pub fn generate() -> SigningKey {
        SigningKey(ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng))
    }

    /// Reads a key written by [`SigningKey::to_pkcs8_pem`] (or `openssl genpkey -algorithm ed25519`).
    pub fn from_pkcs8_pem(pem: &str) -> Result<SigningKey> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map(SigningKey)
            .map_err(|e| Error::InvalidKey {
                reason: format!("expected a PKCS#8 Ed25519 `PRIVATE KEY` PEM block: {e}"),
            })
    }

    /// Writes the key as a PKCS#8 `PRIVATE KEY` PEM block, for a key file.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| Error::InvalidKey {
                reason: format!("cannot encode the key as PKCS#8: {e}"),
            })
    }

    /// The public key that gateways trust to admit components this key signs.
    pub fn issuer(&self) -> IssuerKey {
        IssuerKey(self.0.verifying_key().to_bytes())
    }

    /// Signs `message` with Ed25519 (RFC 8032): the 64-byte signature as 86 unpadded base64url
    /// characters. For detached signatures of things other than components, such as a node's
    /// signature of an artifact it compiled; [`IssuerKey::verifies`] checks one.
    pub fn sign_detached(&self, message: &[u8]) -> String {
        use ed25519_dalek::Signer as _;
        URL_SAFE_NO_PAD.encode(self.0.sign(message).to_bytes())
    }

    /// The key as the JWT encoder takes it: PKCS#8 DER.
    pub(crate) fn encoding_key(&self) -> Result<jsonwebtoken::EncodingKey> {
        let der = self.0.to_pkcs8_der().map_err(|e| Error::InvalidKey {
            reason: format!("cannot encode the key as PKCS#8: {e}"),
        })?;
        Ok(jsonwebtoken::EncodingKey::from_ed_der(der.as_bytes()))
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

/// An issuer's Ed25519 public key: the `iss` of the claims and what `--trust` takes.
///
/// Its text form is the 32 key bytes in unpadded base64url, 43 characters. Parsing refuses
/// anything that is not a usable Ed25519 public key, including the weak small-order points
/// that would let forged signatures verify.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IssuerKey([u8; KEY_LEN]);

impl IssuerKey {
    /// The raw 32 bytes of the public key.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// Whether `signature` (as [`SigningKey::sign_detached`] writes it) is this key's Ed25519
    /// signature of `message`, checked with `verify_strict` (no malleable or small-order
    /// signatures); anything unreadable is false.
    pub fn verifies(&self, message: &[u8], signature: &str) -> bool {
        let Ok(bytes) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        let Ok(bytes) = <[u8; 64]>::try_from(bytes.as_slice()) else {
            return false;
        };
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&bytes))
            .is_ok()
    }
}

impl FromStr for IssuerKey {
    type Err = Error;

    /// Parses the 43-character base64url text form.
    fn from_str(s: &str) -> Result<Self> {
        let refuse = |reason: String| Error::InvalidIssuerKey {
            input: shown(s),
            reason,
        };
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(refuse(format!(
                "not base64url: {c:?} is not in the alphabet A-Z a-z 0-9 - _ (no padding); \
                 use the key `wasmgate keys generate` printed"
            )));
        }
        if s.len() != KEY_TEXT_LEN {
            return Err(refuse(format!(
                "wrong length: {} characters, an Ed25519 public key is {KEY_TEXT_LEN}",
                s.len()
            )));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|e| refuse(format!("not base64url: {e}")))?;
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|b: Vec<u8>| {
            refuse(format!(
                "wrong length: {} bytes, an Ed25519 public key is {KEY_LEN}",
                b.len()
            ))
        })?;
        let point = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map_err(|_| refuse("not a valid Ed25519 curve point".into()))?;
        if point.is_weak() {
            return Err(refuse(
                "a weak (small-order) Ed25519 point, which cannot identify a signer".into(),
            ));
        }
        Ok(IssuerKey(bytes))
    }
}

impl fmt::Display for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IssuerKey({self})")
    }
}

impl Serialize for IssuerKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IssuerKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests;
