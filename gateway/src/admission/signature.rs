//! The deploy-time checks on the component itself: signature, issuer, hash, validity window, the
//! name it was signed for, and imports against granted capabilities.

use crate::error::ApiError;
use std::time::SystemTime;
use wasmgate_claims::{Claims, IssuerKey};
use wasmgate_config::{CapabilitySet, FunctionName};

/// A component that passed every check on its own bytes.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// Its verified claims.
    pub claims: Claims,
    /// The raw JWT.
    pub token: String,
    /// The capabilities its linker gets.
    pub grants: CapabilitySet,
    /// Network imports linked with every destination denied, since their capability is not
    /// granted (`wasmgate_claims::denied`), sorted: the deploy answer's `linked_denied`.
    pub linked_denied: Vec<String>,
}

pub(super) fn verify(
    trusted: &[IssuerKey],
    name: &FunctionName,
    module: &[u8],
    now: SystemTime,
) -> Result<Admitted, ApiError> {
    let verified = wasmgate_claims::verify(module, trusted, now)?;
    let claims = verified.claims;
    if claims.sub != name.as_str() {
        return Err(ApiError::NameMismatch {
            name: name.as_str().to_owned(),
            signed_for: claims.sub,
        });
    }
    let info = wasmgate_claims::component_info(module)?;
    let missing = wasmgate_claims::ungranted(&info.imports, &claims.wasmgate.caps);
    if !missing.is_empty() {
        return Err(ApiError::NotGranted {
            interfaces: missing,
        });
    }
    Ok(Admitted {
        grants: claims.wasmgate.caps.iter().copied().collect(),
        linked_denied: wasmgate_claims::denied(&info.imports, &claims.wasmgate.caps),
        token: verified.token,
        claims,
    })
}
