//! The secret that makes a call's result private to its caller.
//!
//! `POST /async/...` answers with a fresh secret (`X-Call-Token` and `"token"` in the JSON body);
//! `GET /calls/{id}` answers only to `Authorization: Bearer <that secret>` or the admin token.
//! The store keeps only the secret's SHA-256, so a copy of `calls.redb` reads no result through
//! the API, and presented secrets are compared in constant time.

use crate::state::Gateway;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Random bytes per secret: 256 bits, beyond guessing, like the admin token.
const SECRET_BYTES: usize = 32;

/// A new secret for the caller (base64url, 43 characters) and the hash to store.
pub fn issue() -> (String, [u8; 32]) {
    let secret = URL_SAFE_NO_PAD.encode(rand::random::<[u8; SECRET_BYTES]>());
    let hash = digest(&secret);
    (secret, hash)
}

/// SHA-256 of a presented secret.
pub fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Whether a presented secret's digest is the stored one, in constant time.
pub fn matches(stored: &[u8; 32], presented: &[u8; 32]) -> bool {
    stored.ct_eq(presented).into()
}

/// Whether `presented` is the admin token, which reads every call (see [`crate::auth`]).
pub fn is_admin(gw: &Gateway, presented: &str) -> bool {
    gw.access.is_admin_token(presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_matches_its_own_hash_only() {
        let (secret, hash) = issue();
        let (other, _) = issue();
        assert_eq!(secret.len(), 43);
        assert_ne!(secret, other);
        assert!(matches(&hash, &digest(&secret)));
        assert!(!matches(&hash, &digest(&other)));
        assert!(!matches(&hash, &digest("")));
    }
}
