//! What can go wrong between the gateway (or `wasmgate push`) and a registry, each with its
//! status, stable code and what to do.

use http::StatusCode;
use wasmgate_config::shown;

/// A failed pull or push.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The reference does not parse.
    #[error(
        "{} is not an OCI reference ({reason}): write oci://REGISTRY/REPOSITORY:TAG or oci://REGISTRY/REPOSITORY@sha256:DIGEST, e.g. oci://ghcr.io/acme/hello:1.0",
        shown(reference)
    )]
    BadReference {
        /// What was given.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The registry's address is one the egress guard refuses.
    #[error(
        "the registry {} is at an address this gateway may not reach: {reason}",
        shown(registry)
    )]
    EgressRefused {
        /// The registry host.
        registry: String,
        /// The guard's reason.
        reason: String,
    },
    /// No connection, a TLS failure or no answer in time.
    #[error("cannot reach the registry {}: {reason}", shown(registry))]
    Unreachable {
        /// The registry host.
        registry: String,
        /// The client's message.
        reason: String,
    },
    /// The registry refused the credentials (or their absence).
    #[error(
        "the registry {} refused access to {} ({status}): a gateway pulls with the credentials of `[registries.\"{registry}\"]` in its settings (anonymously when there are none), so ask its operator for access; `wasmgate push` uses --username with the password on --password-stdin or in WASMGATE_REGISTRY_PASSWORD",
        shown(registry),
        shown(repository)
    )]
    Denied {
        /// The registry host.
        registry: String,
        /// The repository.
        repository: String,
        /// The registry's status.
        status: u16,
    },
    /// The registry has no such manifest or blob.
    #[error(
        "{} is not in the registry: check the repository and tag, or push it first with `wasmgate push FILE {reference}`",
        shown(what)
    )]
    NotFound {
        /// The reference or blob looked for.
        what: String,
        /// The reference, for the advice.
        reference: String,
    },
    /// Any other answer the protocol does not expect.
    #[error(
        "the registry {} answered {status} to {what}: {detail}",
        shown(registry)
    )]
    Registry {
        /// The registry host.
        registry: String,
        /// The request, e.g. `GET manifest hello:1.0`.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The start of the registry's body, or what was wrong with it.
        detail: String,
    },
    /// The artifact is not one component in the wasm OCI layout.
    #[error(
        "{} is not a wasm component artifact: {reason}; push components with `wasmgate push` or `wkg oci push`",
        shown(reference)
    )]
    NotWasm {
        /// The reference.
        reference: String,
        /// What about its manifest differs.
        reason: String,
    },
    /// The component is larger than the gateway takes.
    #[error(
        "the component of {} is {size} bytes, over this gateway's limit of {limit} bytes (max_module_size)",
        shown(reference)
    )]
    TooLarge {
        /// The reference.
        reference: String,
        /// Its size as the manifest states it.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The deploy pinned a digest the artifact does not have.
    #[error(
        "{} holds the component {actual}, not the pinned {expected}: the tag moved since the digest was taken; pin the new digest or deploy by digest (oci://REGISTRY/REPOSITORY@sha256:...)",
        shown(reference)
    )]
    PinMismatch {
        /// The reference.
        reference: String,
        /// The digest the deploy asked for.
        expected: String,
        /// The component's digest.
        actual: String,
    },
    /// What the registry sent does not hash to the digest it was fetched by.
    #[error(
        "the registry {} sent content for {digest} that hashes to {actual}: the registry is corrupt or something between altered it; nothing was deployed",
        shown(registry)
    )]
    Corrupt {
        /// The registry host.
        registry: String,
        /// The digest asked for.
        digest: String,
        /// The digest of what arrived.
        actual: String,
    },
}

impl OciError {
    /// Status and stable code of this error in the gateway's API.
    pub fn classify(&self) -> (StatusCode, &'static str) {
        match self {
            OciError::BadReference { .. } => (StatusCode::BAD_REQUEST, "invalid_oci_reference"),
            OciError::EgressRefused { .. } => (StatusCode::FORBIDDEN, "registry_address_refused"),
            OciError::Unreachable { .. } => (StatusCode::BAD_GATEWAY, "registry_unreachable"),
            OciError::Denied { .. } => (StatusCode::BAD_GATEWAY, "registry_denied"),
            OciError::NotFound { .. } => (StatusCode::NOT_FOUND, "artifact_not_found"),
            OciError::Registry { .. } | OciError::Corrupt { .. } => {
                (StatusCode::BAD_GATEWAY, "registry_error")
            }
            OciError::NotWasm { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "not_a_wasm_artifact"),
            OciError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            OciError::PinMismatch { .. } => (StatusCode::CONFLICT, "digest_mismatch"),
        }
    }
}
