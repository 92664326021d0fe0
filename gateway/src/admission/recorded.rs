//! The checks a registry record's own claims still allow when no signed original is kept (a
//! function deployed before originals were): the issuer is still trusted and the validity window
//! holds. The signature itself cannot be checked again without the original.

use super::Admission;
use crate::error::ApiError;
use std::time::{SystemTime, UNIX_EPOCH};
use wasmgate_claims::{Claims, Error, IssuerKey, NBF_LEEWAY_SECS};

impl Admission {
    /// Checks `claims`, verified when the function was deployed, against today's trusted issuers
    /// and `now`: refuses as deploy does (`untrusted_issuer`, `expired`, `not_yet_valid`).
    pub fn verify_recorded(&self, claims: &Claims, now: SystemTime) -> Result<(), ApiError> {
        if self.trusted.is_empty() {
            return Err(Error::NoTrustedIssuers.into());
        }
        let issuer: IssuerKey = claims.iss.parse()?;
        if !self.trusted.contains(&issuer) {
            return Err(Error::UntrustedIssuer { issuer }.into());
        }
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if let Some(exp) = claims.exp
            && exp <= now
        {
            return Err(Error::Expired { exp }.into());
        }
        if claims.nbf > now.saturating_add(NBF_LEEWAY_SECS) {
            return Err(Error::NotYetValid { nbf: claims.nbf }.into());
        }
        Ok(())
    }
}
