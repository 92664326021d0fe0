//! The claims a signed component carries: the JWT payload.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use wasmgate_config::{Capability, HostPattern};

/// The claims of a signed component, as they appear in the JWT payload.
///
/// Unknown fields are ignored, as JWT readers do, so newer signers stay readable; a capability
/// name this version does not know makes the token unreadable rather than silently ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer: its public key in text form (see [`IssuerKey`](crate::IssuerKey)).
    pub iss: String,
    /// The subject: the function name the component was signed for.
    pub sub: String,
    /// When the token was issued, in seconds since the Unix epoch.
    pub iat: u64,
    /// The token is not valid before this time, in seconds since the Unix epoch.
    pub nbf: u64,
    /// The token is not valid from this time on, in seconds since the Unix epoch; `None` never expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<u64>,
    /// The gateway or cluster the component was signed for (RFC 7519 §4.1.3); `None` names none.
    /// A gateway with `[admission] audience` set admits only its own audience, and one without
    /// refuses any audience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// A unique id for this signature (a UUID v4), for audit logs.
    pub jti: String,
    /// What wasmgate itself needs: the component's hash and its granted capabilities.
    pub wasmgate: WasmgateClaims,
}

/// The wasmgate-specific part of the claims (the `wasmgate` object).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WasmgateClaims {
    /// Lowercase hex SHA-256 of the component without its `jwt` section (see [`module_hash`](crate::module_hash)).
    pub hash: String,
    /// The host capabilities the component may use.
    pub caps: Vec<Capability>,
    /// A free-form version label chosen by the signer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Free-form labels chosen by the signer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The only hosts a network capability (`http-outgoing`, `sockets`) may reach, by capability
    /// name. A granted capability missing here has no list: it reaches any public address.
    /// Tokens signed before lists existed have no such field and read as no list.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub allowed_hosts: BTreeMap<Capability, Vec<HostPattern>>,
    /// Lowercase hex SHA-256 of the exact manifest bytes the signer approved
    /// (`wasmgate sign --manifest FILE`); a deploy must send that manifest byte for byte. `None`:
    /// the manifest is unsigned, and may hold only operator tuning (see the gateway's rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_signed_before_host_lists_existed_read_as_having_none() {
        let old = r#"{"hash":"00","caps":["http-outgoing"]}"#;
        let claims: WasmgateClaims = serde_json::from_str(old).unwrap();
        assert!(claims.allowed_hosts.is_empty());
        assert_eq!(
            serde_json::to_string(&claims).unwrap(),
            old,
            "and write back unchanged"
        );
    }

    #[test]
    fn a_malformed_host_pattern_makes_the_claims_unreadable() {
        let bad =
            r#"{"hash":"00","caps":["http-outgoing"],"allowed_hosts":{"http-outgoing":["a b"]}}"#;
        assert!(serde_json::from_str::<WasmgateClaims>(bad).is_err());
    }
}
