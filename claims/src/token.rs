//! The compact JWT text: encoding signed claims and reading them back.

use crate::claims::Claims;
use crate::error::{Error, Result};
use crate::key::{IssuerKey, SigningKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};

/// Length of an Ed25519 signature in bytes.
const SIGNATURE_LEN: usize = 64;

/// Signs `claims` as a compact JWT with header `{"typ":"JWT","alg":"EdDSA"}`.
pub(crate) fn encode(claims: &Claims, key: &SigningKey) -> Result<String> {
    jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), claims, &key.encoding_key()?).map_err(
        |e| Error::Signing {
            reason: e.to_string(),
        },
    )
}

/// Reads the claims of a token without checking its signature, issuer or times.
///
/// For showing what a component claims (`wasmgate inspect`), never for admitting one: use
/// [`verify`](crate::verify) for that. The token must still be a well-formed compact JWT
/// with `alg` `EdDSA` and a 64-byte signature, or it is [`Error::Malformed`].
pub fn decode_unverified(token: &str) -> Result<Claims> {
    let parts: Vec<&str> = token.split('.').collect();
    let [_, _, signature] = parts[..] else {
        return Err(Error::malformed(format!(
            "a JWT has 3 dot-separated parts, this token has {}",
            parts.len()
        )));
    };
    let header = jsonwebtoken::decode_header(token)
        .map_err(|e| Error::malformed(format!("unreadable JWT header: {e}")))?;
    if header.alg != Algorithm::EdDSA {
        return Err(Error::malformed(format!(
            "JWT algorithm is {:?}, wasmgate accepts only EdDSA",
            header.alg
        )));
    }
    if header.crit.is_some() {
        return Err(Error::malformed(
            "JWT header lists `crit` extensions, which wasmgate does not understand",
        ));
    }
    let signature_len = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|e| Error::malformed(format!("JWT signature is not base64url: {e}")))?
        .len();
    if signature_len != SIGNATURE_LEN {
        return Err(Error::malformed(format!(
            "JWT signature is {signature_len} bytes, an Ed25519 signature is {SIGNATURE_LEN}"
        )));
    }
    jsonwebtoken::dangerous::insecure_decode_claims(token)
        .map_err(|e| Error::malformed(format!("unreadable claims: {e}")))
}

/// Checks the token's signature against `issuer` and returns the claims it covers.
///
/// Times are not checked here: the caller compares them with its own clock.
pub(crate) fn decode_signed(token: &str, issuer: &IssuerKey) -> Result<Claims> {
    let key =
        DecodingKey::from_ed_components(&issuer.to_string()).map_err(|_| Error::BadSignature)?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|_| Error::BadSignature)
}
