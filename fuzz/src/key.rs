//! The one signing key every target uses, so crashes replay with the same signatures.

use ed25519_dalek::pkcs8::EncodePrivateKey as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use wasmgate_claims::SigningKey;

/// Seed of the fixed Ed25519 key: not secret, it signs only fuzz inputs.
pub const SEED: [u8; 32] = *b"wasmgate-fuzz-fixed-signing-key!";

/// The signing key made from [`SEED`], through the claims crate's own PEM reader.
pub fn fixed_key() -> SigningKey {
    let pem = ed25519_dalek::SigningKey::from_bytes(&SEED)
        .to_pkcs8_pem(LineEnding::LF)
        .expect("encode the fixed key as PKCS#8");
    SigningKey::from_pkcs8_pem(&pem).expect("the claims crate reads the fixed key")
}
