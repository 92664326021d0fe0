//! Precompiled artifacts shared between nodes that trust each other's node keys (`[cluster]
//! node_key`, `trusted_nodes`), so a deploy is compiled once per engine instead of once per node.
//!
//! A node with a `node_key` signs every artifact it compiles, after a deploy or after compiling
//! a peer's deploy itself, and stores it in the object store `wg_artifacts` as
//! `cwasm/<engine fingerprint>/<original digest>`, with this metadata:
//!
//! | key | value |
//! |---|---|
//! | `wasmgate-node` | the compiling node's id (for operators; not trusted) |
//! | `wasmgate-node-key` | its public key, 43 base64url characters |
//! | `wasmgate-artifact-sha256` | `sha256:<hex>` of the artifact's bytes |
//! | `wasmgate-node-sig` | Ed25519 signature (RFC 8032) of [`signed_message`] |
//!
//! A node applying a peer's deploy first re-verifies the signed original (claims, hash, its own
//! trusted issuers), as it always does. Then, before compiling, it loads the shared artifact
//! only when all of this holds ([`check`]): the object is named by this node's own engine
//! fingerprint, its key is in this node's `trusted_nodes`, the signature verifies over (engine
//! fingerprint, original digest, artifact digest), and the bytes hash to that artifact digest.
//! wasmtime then refuses bytes its engine cannot load, and the artifact must link with the
//! grants the original was admitted with. Anything else and the node compiles the original
//! itself: unverified bytes are never deserialized. This is the trust rule of the research
//! design (round2-design §3.3).

use super::{ClusterNode, sync::api_error};
use crate::error::ApiError;
use std::collections::HashMap;
use wasmgate_claims::{IssuerKey, SigningKey};
use wasmgate_cluster::{SharedArtifact, artifact_name};
use wasmgate_config::{CapabilitySet, ClusterSettings};
use wasmgate_pool::{Digest, Pool};

/// Metadata key: the id of the node that compiled the artifact.
pub const META_NODE: &str = "wasmgate-node";
/// Metadata key: that node's public key.
pub const META_NODE_KEY: &str = "wasmgate-node-key";
/// Metadata key: the artifact's digest, `sha256:<hex>`.
pub const META_SHA256: &str = "wasmgate-artifact-sha256";
/// Metadata key: the node's signature of [`signed_message`].
pub const META_SIGNATURE: &str = "wasmgate-node-sig";

/// What a node signs for an artifact: the engine it was compiled by, the original it was
/// compiled from and its own digest, each on a line after a version tag, so a signature never
/// vouches for bytes under another engine or for another function's code.
pub fn signed_message(fingerprint: &str, original: &str, artifact: &str) -> Vec<u8> {
    format!(
        "wasmgate-artifact-v1\nengine {fingerprint}\noriginal {original}\nartifact {artifact}\n"
    )
    .into_bytes()
}

/// Why a shared artifact was not loaded; each is a label of
/// `wasmgate_cluster_artifacts_total{outcome}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Its metadata lacks a key or has one that cannot be read.
    #[error("its metadata is incomplete or malformed: {0}")]
    Malformed(String),
    /// Its signing key is not in `cluster.trusted_nodes`.
    #[error("it was signed by {0}, a node key not in cluster.trusted_nodes")]
    Untrusted(String),
    /// The signature does not verify over this engine, this original and the stated digest.
    #[error("its signature does not verify for this engine and original")]
    BadSignature,
    /// The bytes do not hash to the signed digest.
    #[error("its bytes hash to {actual}, not the signed {signed}")]
    DigestMismatch {
        /// The digest the node signed.
        signed: String,
        /// The digest of the bytes read.
        actual: String,
    },
}

impl Refusal {
    /// The metric label.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::Untrusted(_) => "untrusted",
            Refusal::BadSignature => "bad_signature",
            Refusal::DigestMismatch { .. } => "digest_mismatch",
        }
    }
}

/// Decides whether `shared`, found under this engine's `fingerprint` and the original
/// `original`, may be loaded: signed by one of `trusted` over exactly these and its own digest.
/// Pure, apart from hashing the bytes.
pub fn check(
    shared: &SharedArtifact,
    trusted: &[IssuerKey],
    fingerprint: &str,
    original: &str,
) -> Result<(), Refusal> {
    let meta = |key: &str| {
        shared
            .metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Refusal::Malformed(format!("no {key}")))
    };
    let key_text = meta(META_NODE_KEY)?;
    let key: IssuerKey = key_text
        .parse()
        .map_err(|e| Refusal::Malformed(format!("{META_NODE_KEY}: {e}")))?;
    if !trusted.contains(&key) {
        return Err(Refusal::Untrusted(key_text.to_owned()));
    }
    let signed = meta(META_SHA256)?;
    let message = signed_message(fingerprint, original, signed);
    if !key.verifies(&message, meta(META_SIGNATURE)?) {
        return Err(Refusal::BadSignature);
    }
    let actual = Digest::of(&shared.bytes).to_string();
    if actual != signed {
        return Err(Refusal::DigestMismatch {
            signed: signed.to_owned(),
            actual,
        });
    }
    Ok(())
}

/// This node's part in artifact sharing: its key, if it signs, and the keys it trusts.
pub struct ArtifactSharing {
    key: Option<SigningKey>,
    trusted: Vec<IssuerKey>,
}

impl ArtifactSharing {
    /// Reads `node_key` and parses `trusted_nodes`; errors name the setting and the file.
    pub fn from_settings(settings: &ClusterSettings) -> Result<Self, ApiError> {
        let key = match &settings.node_key {
            None => None,
            Some(path) => {
                let invalid = |reason: String| {
                    ApiError::Config(wasmgate_config::Error::InvalidSettings {
                        reason: format!(
                            "cluster.node_key {}: {reason}; make one with `wasmgate keys generate --out FILE`",
                            path.display()
                        ),
                    })
                };
                let pem = std::fs::read_to_string(path)
                    .map(zeroize::Zeroizing::new)
                    .map_err(|e| invalid(format!("cannot be read: {e}")))?;
                Some(SigningKey::from_pkcs8_pem(&pem).map_err(|e| invalid(e.to_string()))?)
            }
        };
        let trusted = settings
            .trusted_nodes
            .iter()
            .map(|text| {
                text.parse::<IssuerKey>().map_err(|e| {
                    ApiError::Config(wasmgate_config::Error::InvalidSettings {
                        reason: format!("cluster.trusted_nodes: {e}"),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ArtifactSharing { key, trusted })
    }

    /// This node's public key, when it signs what it compiles.
    pub fn public_key(&self) -> Option<IssuerKey> {
        self.key.as_ref().map(SigningKey::issuer)
    }

    /// Whether this node looks for shared artifacts at all (it trusts some node key).
    pub fn adopts(&self) -> bool {
        !self.trusted.is_empty()
    }

    /// Whether `key` (text form) is one of `trusted_nodes`.
    pub fn trusts(&self, key: &str) -> bool {
        key.parse::<IssuerKey>()
            .is_ok_and(|key| self.trusted.contains(&key))
    }

    /// Signs and stores `artifact`, compiled here from `original`, when this node has a key;
    /// a failure is logged and counted, never fatal: peers then compile it themselves.
    pub async fn publish(&self, node: &ClusterNode, pool: &Pool, original: &str, artifact: &str) {
        let Some(key) = &self.key else {
            return;
        };
        let fingerprint = pool.engine_fingerprint();
        let published = async {
            let digest = Digest::parse(artifact).ok_or_else(|| ApiError::Storage {
                reason: format!("malformed artifact digest {artifact:?}"),
            })?;
            let bytes = {
                let pool = pool.clone();
                tokio::task::spawn_blocking(move || pool.artifact_bytes(&digest))
                    .await
                    .map_err(|e| ApiError::Internal {
                        reason: format!("reading an artifact failed: {e}"),
                    })??
            };
            let metadata = HashMap::from([
                (META_NODE.to_owned(), node.id.clone()),
                (META_NODE_KEY.to_owned(), key.issuer().to_string()),
                (META_SHA256.to_owned(), artifact.to_owned()),
                (
                    META_SIGNATURE.to_owned(),
                    key.sign_detached(&signed_message(fingerprint, original, artifact)),
                ),
            ]);
            node.cluster
                .put_artifact(&artifact_name(fingerprint, original), &bytes, metadata)
                .await
                .map_err(api_error)
        };
        match published.await {
            Ok(()) => node.metrics.count_artifact("published"),
            Err(e) => {
                node.metrics.count_artifact("publish_failed");
                tracing::warn!(%original, error = %e, "could not share a compiled artifact: peers compile it themselves");
            }
        }
    }

    /// The artifact a trusted node shared for `original` and this engine, read from the
    /// cluster, unchecked (see [`ArtifactSharing::adopt`]); `None` when this node trusts no node
    /// key, none is stored, or the store cannot be read.
    pub async fn fetch(
        &self,
        node: &ClusterNode,
        pool: &Pool,
        original: &str,
        limit: u64,
    ) -> Option<SharedArtifact> {
        if !self.adopts() {
            return None;
        }
        let name = artifact_name(pool.engine_fingerprint(), original);
        match node.cluster.artifact(&name, limit).await {
            Ok(Some(shared)) => Some(shared),
            Ok(None) => {
                node.metrics.count_artifact("absent");
                None
            }
            Err(e) => {
                let outcome = match e {
                    wasmgate_cluster::Error::TooLarge { .. } => "too_large",
                    _ => "unavailable",
                };
                node.metrics.count_artifact(outcome);
                tracing::warn!(%original, error = %e, "could not read a shared artifact: compiling here");
                None
            }
        }
    }

    /// Checks `shared` ([`check`]) and, when it passes, stores it and checks that it loads and
    /// links with `grants`; its digest and size, or `None` (logged and counted) when this node
    /// must compile the original itself. Blocking: hashes, writes and deserializes.
    pub fn adopt(
        &self,
        metrics: &super::ClusterMetrics,
        pool: &Pool,
        shared: &SharedArtifact,
        original: &str,
        grants: CapabilitySet,
    ) -> Option<(Digest, u64, String)> {
        // Text from the store: logged with `?` (escaped), never as written.
        let by = shared
            .metadata
            .get(META_NODE)
            .map_or("an unnamed node", String::as_str);
        if let Err(refusal) = check(shared, &self.trusted, pool.engine_fingerprint(), original) {
            metrics.count_artifact(refusal.label());
            tracing::warn!(%original, node = ?by, reason = ?refusal.to_string(), "not loading a shared artifact: compiling here");
            return None;
        }
        let key = shared
            .metadata
            .get(META_NODE_KEY)
            .cloned()
            .unwrap_or_default();
        match pool.adopt_artifact(&shared.bytes, grants) {
            Ok(digest) => {
                metrics.count_artifact("adopted");
                tracing::info!(%original, node = ?by, %key, artifact = %digest, "loaded an artifact a trusted node compiled");
                Some((digest, shared.bytes.len() as u64, key))
            }
            Err(e) => {
                metrics.count_artifact("unloadable");
                tracing::warn!(%original, node = ?by, error = %e, "a trusted node's artifact does not load here: compiling here");
                None
            }
        }
    }
}

/// Whether the artifact `record` names may still serve on this node: compiled here, or adopted
/// from a node key that is still in `cluster.trusted_nodes` (a key removed from the list, or a
/// node no longer in a cluster, makes the next start compile the original again).
pub fn still_trusted(gw: &crate::state::Gateway, record: &crate::registry::Record) -> bool {
    match &record.adopted_from {
        None => true,
        Some(key) => gw
            .cluster
            .as_ref()
            .is_some_and(|node| node.artifacts.trusts(key)),
    }
}

/// Every outcome label of `wasmgate_cluster_artifacts_total`.
pub const OUTCOMES: [&str; 11] = [
    "published",
    "publish_failed",
    "adopted",
    "absent",
    "unavailable",
    "too_large",
    "malformed",
    "untrusted",
    "bad_signature",
    "digest_mismatch",
    "unloadable",
];

#[cfg(test)]
mod tests;
