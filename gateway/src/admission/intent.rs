//! What a signature must cover before a deploy is admitted: its validity period, its audience,
//! and the manifest the component is deployed with.
//!
//! Pure checks of verified claims against the node's `[admission]` settings; the caller has
//! already verified the signature, issuer, hash and validity window (`wasmgate_claims::verify`).

use crate::error::ApiError;
use sha2::{Digest as _, Sha256};
use std::time::Duration;
use wasmgate_claims::Claims;
use wasmgate_config::{AdmissionSettings, ConfigValue, Manifest};

/// Refuses claims without `exp` (unless the operator allows them) and claims valid for longer
/// than `[admission] max_validity`, counted from `iat` or `now`, whichever is earlier.
pub fn check_validity(
    claims: &Claims,
    settings: &AdmissionSettings,
    now_secs: u64,
) -> Result<(), ApiError> {
    let Some(exp) = claims.exp else {
        return if settings.allow_no_expiry {
            Ok(())
        } else {
            Err(ApiError::ExpiryRequired)
        };
    };
    let valid_for = Duration::from_secs(exp.saturating_sub(claims.iat.min(now_secs)));
    if valid_for > settings.max_validity.get() {
        return Err(ApiError::ValidityTooLong {
            valid_for,
            max: settings.max_validity.get(),
        });
    }
    Ok(())
}

/// Refuses claims meant for another audience (RFC 7519 §4.1.3): with `[admission] audience` set,
/// `aud` must be exactly it; without, any `aud` names some other gateway.
pub fn check_audience(claims: &Claims, settings: &AdmissionSettings) -> Result<(), ApiError> {
    if claims.aud == settings.audience {
        return Ok(());
    }
    Err(ApiError::AudienceMismatch {
        expected: settings.audience.clone(),
        signed_for: claims.aud.clone(),
    })
}

/// Refuses a manifest the signature does not cover: a signed manifest hash must match the bytes
/// sent, and an unsigned manifest may hold only operator tuning (see [`widening_keys`]).
pub fn check_manifest(
    claims: &Claims,
    sent: Option<&[u8]>,
    manifest: &Manifest,
) -> Result<(), ApiError> {
    match (&claims.wasmgate.manifest, sent) {
        (Some(signed), Some(sent)) => {
            let actual = format!("{:x}", Sha256::digest(sent));
            if *signed == actual {
                Ok(())
            } else {
                Err(ApiError::ManifestMismatch {
                    reason: format!(
                        "the component was signed with a manifest of SHA-256 {signed}, the manifest sent has {actual}: send the signed file byte for byte, or sign again with `wasmgate sign --manifest FILE`"
                    ),
                })
            }
        }
        (Some(signed), None) => Err(ApiError::ManifestMismatch {
            reason: format!(
                "the component was signed with a manifest (SHA-256 {signed}) and none was sent: deploy it as multipart with the signed file as the `manifest` part"
            ),
        }),
        (None, _) => {
            let keys = widening_keys(manifest);
            if keys.is_empty() {
                Ok(())
            } else {
                Err(ApiError::ManifestUnsigned { keys })
            }
        }
    }
}

/// The manifest keys that widen what the code reaches, and so are accepted only from a signed
/// manifest: triggers (which subjects' messages it sees), schedules (when it runs with nobody
/// calling it, and which paths or handler those runs reach), shared key-value buckets, `[config]`
/// values read from the gateway's environment, routes outside `/fn/NAME`, and publish subjects;
/// also `scale.reuse = true`, which lets one request's memory reach the next (only the author
/// knows whether the guest keeps secrets there). Everything else (the rest of `[scale]`,
/// `[limits]`, invoke tokens, literal `[config]` values) is operator tuning or narrows access,
/// and may stay unsigned.
pub fn widening_keys(manifest: &Manifest) -> Vec<String> {
    let mut keys = Vec::new();
    if !manifest.triggers.is_empty() {
        keys.push("triggers".to_owned());
    }
    if !manifest.schedules.is_empty() {
        keys.push("schedules".to_owned());
    }
    if !manifest.keyvalue.shared.is_empty() {
        keys.push("keyvalue.shared".to_owned());
    }
    if !manifest.http.routes.is_empty() {
        keys.push("http.routes".to_owned());
    }
    if !manifest.messaging.publish.is_empty() {
        keys.push("messaging.publish".to_owned());
    }
    if manifest.scale.reuse == Some(true) {
        keys.push("scale.reuse".to_owned());
    }
    keys.extend(
        manifest
            .config
            .iter()
            .filter(|(_, value)| matches!(value, ConfigValue::Env { .. }))
            .map(|(key, _)| format!("config.{key}")),
    );
    keys
}

#[cfg(test)]
mod tests;
