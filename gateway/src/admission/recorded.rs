//! The checks a registry record's own claims still allow when no signed original is kept (a
//! function deployed before originals were): the issuer is still trusted and the validity window
//! holds. The signature itself cannot be checked again without the original.

use super::Admission;
use crate::error::ApiError;
use std::time::SystemTime;
use wasmgate_claims::Claims;

impl Admission {
    /// Checks `claims`, verified when the function was deployed, against today's trusted issuers
    /// and `now`: refuses as deploy does (`untrusted_issuer`, `expired`, `not_yet_valid`).
    pub fn verify_recorded(&self, claims: &Claims, now: SystemTime) -> Result<(), ApiError> {
        self.check_trusted(&claims.iss)?;
        Ok(wasmgate_claims::check_window(claims, now)?)
    }
}
