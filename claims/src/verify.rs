//! Verification: deciding whether a signed component may be admitted.

use crate::claims::Claims;
use crate::error::{Error, Result};
use crate::key::IssuerKey;
use crate::section::{self, Sections};
use crate::sign::unix_secs;
use crate::token;
use std::time::SystemTime;

/// How far, in seconds, a token's `nbf` may lie in the future and still be accepted.
///
/// Signing stamps `nbf` with the signer's clock; a minute absorbs the skew between a laptop
/// and a server without NTP trouble, yet keeps pre-dated tokens from being usable early.
/// `exp` gets no leeway: an expired signature is refused on the second.
pub const NBF_LEEWAY_SECS: u64 = 60;

/// A component that passed [`verify`]: its claims and who signed them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The verified claims.
    pub claims: Claims,
    /// The compact JWT they came from, for audit logs and the registry.
    pub token: String,
    /// The trusted issuer that signed them.
    pub issuer: IssuerKey,
}

/// Checks a signed component and returns its claims when it may be admitted.
///
/// The checks run in this order, each failing with its own error: the bytes parse as a
/// component or module ([`Error::InvalidComponent`]); there is exactly one readable top-level
/// `jwt` section ([`Error::Unsigned`], [`Error::Malformed`]); the issuer is trusted
/// ([`Error::NoTrustedIssuers`], [`Error::UntrustedIssuer`], checked before the signature so
/// an untrusted signer learns nothing more); the signature verifies ([`Error::BadSignature`]);
/// the hash matches the component ([`Error::Tampered`]); and `now` lies within the validity
/// window ([`Error::Expired`], [`Error::NotYetValid`], with [`NBF_LEEWAY_SECS`] of skew).
///
/// Whether `sub` matches the deploy name and whether the imports are granted is the caller's
/// to check (see [`ungranted`](crate::ungranted)).
pub fn verify(component: &[u8], trusted: &[IssuerKey], now: SystemTime) -> Result<Verified> {
    let sections = Sections::parse(component)?;
    let token = sections.token()?.ok_or(Error::Unsigned)?;
    let unverified = token::decode_unverified(token)?;
    let issuer: IssuerKey = unverified
        .iss
        .parse()
        .map_err(|e| Error::malformed(format!("`iss` is not an issuer key: {e}")))?;
    if trusted.is_empty() {
        return Err(Error::NoTrustedIssuers);
    }
    if !trusted.contains(&issuer) {
        return Err(Error::UntrustedIssuer { issuer });
    }
    let claims = token::decode_signed(token, &issuer)?;
    let actual = section::sha256_hex(&sections.stripped());
    if claims.wasmgate.hash != actual {
        return Err(Error::Tampered {
            expected: claims.wasmgate.hash,
            actual,
        });
    }
    check_window(&claims, now)?;
    Ok(Verified {
        claims,
        token: token.to_owned(),
        issuer,
    })
}

/// Checks that `now` lies within the claims' validity window: [`Error::Expired`] once `exp` has
/// passed (no leeway), [`Error::NotYetValid`] while `nbf` is more than [`NBF_LEEWAY_SECS`] ahead.
///
/// [`verify`] runs it; a host re-checking claims it verified earlier (at restart, on each call)
/// runs it alone.
pub fn check_window(claims: &Claims, now: SystemTime) -> Result<()> {
    check_expiry(claims, now)?;
    if claims.nbf > unix_secs(now).saturating_add(NBF_LEEWAY_SECS) {
        return Err(Error::NotYetValid { nbf: claims.nbf });
    }
    Ok(())
}

/// The `exp` half of [`check_window`]: [`Error::Expired`] once `exp` has passed at `now`.
pub fn check_expiry(claims: &Claims, now: SystemTime) -> Result<()> {
    match claims.exp {
        Some(exp) if exp <= unix_secs(now) => Err(Error::Expired { exp }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
