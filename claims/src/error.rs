//! Everything that can go wrong while handling keys, signing a component or verifying one.

use crate::IssuerKey;

/// Result of every fallible operation in this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a key, a component or its claims were refused.
///
/// Match on the variant or on [`Error::code`]; the message wording may change, the codes do not.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a WebAssembly component or core module.
    #[error("not a WebAssembly component or module: {reason}")]
    InvalidComponent {
        /// What the parser found wrong, with its byte offset.
        reason: String,
    },
    /// The component carries no `jwt` custom section.
    #[error("the component is not signed: it has no `jwt` section; sign it with `wasmgate sign`")]
    Unsigned,
    /// The `jwt` section cannot be read as wasmgate claims, so its signature cannot be checked.
    #[error("the component's signature is malformed: {reason}")]
    Malformed {
        /// What is wrong with the section or the token in it.
        reason: String,
    },
    /// The claims name an issuer this node does not trust.
    #[error(
        "issuer {issuer} is not trusted; to accept it start `wasmgate serve --trust {issuer}` \
         or add it to WASMGATE_TRUSTED_ISSUERS"
    )]
    UntrustedIssuer {
        /// The issuer the claims name.
        issuer: IssuerKey,
    },
    /// This node trusts no issuer at all, so no signed component can be admitted.
    #[error(
        "no issuer is trusted: pass `wasmgate serve --trust PUBKEY` or set \
         WASMGATE_TRUSTED_ISSUERS to a comma-separated list of issuer public keys"
    )]
    NoTrustedIssuers,
    /// The token's signature does not verify against the issuer's key.
    #[error("the component's signature does not verify against its issuer's key")]
    BadSignature,
    /// The component's bytes differ from the ones that were signed.
    #[error(
        "the component was modified after signing: claims hash {expected}, component hash {actual}"
    )]
    Tampered {
        /// The hash in the claims (`wasmgate.hash`).
        expected: String,
        /// The hash of the component as received, without its `jwt` section.
        actual: String,
    },
    /// The claims' `exp` has passed.
    #[error("the component's claims expired at {exp} (Unix seconds); sign it again")]
    Expired {
        /// The `exp` claim, in seconds since the Unix epoch.
        exp: u64,
    },
    /// The claims' `nbf` is still in the future, beyond the allowed clock skew.
    #[error("the component's claims are not valid before {nbf} (Unix seconds); check the clocks")]
    NotYetValid {
        /// The `nbf` claim, in seconds since the Unix epoch.
        nbf: u64,
    },
    /// A signing key does not parse as a PKCS#8 Ed25519 private key.
    #[error("invalid signing key: {reason}")]
    InvalidKey {
        /// What is wrong; never contains key material.
        reason: String,
    },
    /// An issuer public key does not parse.
    #[error("issuer key {input:?} is invalid: {reason}")]
    InvalidIssuerKey {
        /// The text as given, shortened.
        input: String,
        /// What is wrong and what a valid key looks like.
        reason: String,
    },
    /// The signing options cannot produce valid claims.
    #[error("cannot sign: {reason}")]
    InvalidSignOptions {
        /// Which option is wrong and how to fix it.
        reason: String,
    },
    /// The token could not be produced; this is a bug, not bad input.
    #[error("cannot encode the claims token: {reason}")]
    Signing {
        /// What the JWT encoder reported.
        reason: String,
    },
}

impl Error {
    /// A stable snake_case code for API responses and metrics labels; never changes with wording.
    ///
    /// A token that cannot be read counts as a bad signature (`bad_signature`), and both trust
    /// failures share `untrusted_issuer`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidComponent { .. } => "invalid_component",
            Error::Unsigned => "unsigned",
            Error::Malformed { .. } | Error::BadSignature => "bad_signature",
            Error::UntrustedIssuer { .. } | Error::NoTrustedIssuers => "untrusted_issuer",
            Error::Tampered { .. } => "module_tampered",
            Error::Expired { .. } => "expired",
            Error::NotYetValid { .. } => "not_yet_valid",
            Error::InvalidKey { .. } => "invalid_key",
            Error::InvalidIssuerKey { .. } => "invalid_issuer_key",
            Error::InvalidSignOptions { .. } => "invalid_sign_options",
            Error::Signing { .. } => "signing_failed",
        }
    }

    pub(crate) fn malformed(reason: impl Into<String>) -> Error {
        Error::Malformed {
            reason: reason.into(),
        }
    }
}

/// Longest piece of user input quoted back in a message, so a huge value cannot flood a log line.
const MAX_SHOWN_CHARS: usize = 80;

/// User input as it appears in a message: cut short when long (`Debug` formatting escapes it).
pub(crate) fn shown(input: &str) -> String {
    let mut out: String = input.chars().take(MAX_SHOWN_CHARS).collect();
    if input.chars().nth(MAX_SHOWN_CHARS).is_some() {
        out.push('…');
    }
    out
}
