//! The node's deploy quotas: how many functions it serves (`quotas.max_functions`) and how many
//! bytes of stored blobs they use (`quotas.max_stored_bytes`).
//!
//! Both are decided from the catalog under its change lock, so two concurrent deploys cannot
//! both take the last place; the deploy pipeline also asks for the count before compiling, so a
//! full node refuses without spending a compile. The key-value and backlog quotas live with their
//! backends (`wasmgate-capabilities`), which alone can account for them atomically.

use crate::catalog::Snapshot;
use crate::error::ApiError;
use crate::registry::Record;
use crate::state::Gateway;
use std::collections::HashMap;

/// A quota the gateway refuses at; its label is the settings key under `[quotas]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quota {
    /// `quotas.max_functions`.
    Functions,
    /// `quotas.max_stored_bytes`.
    StoredBytes,
    /// `quotas.max_kv_bytes`.
    KvBytes,
    /// `quotas.max_backlog_messages`.
    BacklogMessages,
    /// `quotas.max_backlog_bytes`.
    BacklogBytes,
}

impl Quota {
    /// Every quota, in the order of the settings.
    pub const ALL: [Quota; 5] = [
        Quota::Functions,
        Quota::StoredBytes,
        Quota::KvBytes,
        Quota::BacklogMessages,
        Quota::BacklogBytes,
    ];

    /// The key under `[quotas]`, which is also the `quota` label of the quota metrics.
    pub fn key(self) -> &'static str {
        match self {
            Quota::Functions => "max_functions",
            Quota::StoredBytes => "max_stored_bytes",
            Quota::KvBytes => "max_kv_bytes",
            Quota::BacklogMessages => "max_backlog_messages",
            Quota::BacklogBytes => "max_backlog_bytes",
        }
    }

    /// The limit this node's settings set for it (bytes or a count).
    pub fn limit(self, settings: &wasmgate_config::QuotaSettings) -> u64 {
        match self {
            Quota::Functions => u64::from(settings.max_functions),
            Quota::StoredBytes => settings.max_stored_bytes.bytes(),
            Quota::KvBytes => settings.max_kv_bytes.bytes(),
            Quota::BacklogMessages => u64::from(settings.max_backlog_messages),
            Quota::BacklogBytes => settings.max_backlog_bytes.bytes(),
        }
    }
}

/// The blobs a deployed function keeps on the node's disk, each as its content digest and size.
///
/// Blobs are content-addressed, so functions sharing one share its bytes: [`stored_bytes`]
/// counts each digest once: the precompiled artifact, and the signed original kept beside it
/// (the uploaded module, `size` bytes; none for a function deployed before originals were kept).
pub fn stored_blobs(record: &Record) -> impl Iterator<Item = (&str, u64)> {
    std::iter::once((record.artifact.as_str(), record.artifact_size)).chain(
        record
            .original
            .as_deref()
            .map(|original| (original, record.size)),
    )
}

/// Bytes of the distinct blobs `records` use.
pub fn stored_bytes<'a>(records: impl IntoIterator<Item = &'a Record>) -> u64 {
    let mut blobs: HashMap<&str, u64> = HashMap::new();
    for record in records {
        blobs.extend(stored_blobs(record));
    }
    blobs.values().sum()
}

/// Refuses a deploy of a new function `name` when the node already serves `quotas.max_functions`;
/// a replacement of a deployed name always passes.
pub fn check_functions(gw: &Gateway, snapshot: &Snapshot, name: &str) -> Result<(), ApiError> {
    let limit = Quota::Functions.limit(&gw.settings.quotas);
    let used = snapshot.len() as u64;
    if snapshot.function(name).is_none() && used >= limit {
        return Err(refuse(gw, Quota::Functions, used, limit));
    }
    Ok(())
}

/// Refuses publishing `record` when the node would pass a deploy quota: one function more than
/// `quotas.max_functions`, or its stored blobs over `quotas.max_stored_bytes`. A deploy that does
/// not grow the stored bytes (a replacement by code of the same size or less, a reused artifact)
/// passes even above a lowered quota. Call with the catalog's change lock held.
pub fn check_deploy(gw: &Gateway, record: &Record) -> Result<(), ApiError> {
    let snapshot = gw.catalog.snapshot();
    check_functions(gw, &snapshot, &record.name)?;
    let deployed = snapshot.sorted();
    let now = stored_bytes(deployed.iter().map(|d| &d.record));
    let after = stored_bytes(
        deployed
            .iter()
            .map(|d| &d.record)
            .filter(|r| r.name != record.name)
            .chain(std::iter::once(record)),
    );
    let limit = Quota::StoredBytes.limit(&gw.settings.quotas);
    if after > limit && after > now {
        return Err(refuse(gw, Quota::StoredBytes, after, limit));
    }
    Ok(())
}

/// Counts a refusal at `quota` and builds its error.
fn refuse(gw: &Gateway, quota: Quota, used: u64, limit: u64) -> ApiError {
    gw.metrics.quota_refused(quota);
    ApiError::QuotaExceeded { quota, used, limit }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str, artifact: &str, size: u64) -> Record {
        Record {
            name: name.into(),
            version: 1,
            digest: format!("sha256:{name}"),
            size: 1,
            artifact: artifact.into(),
            artifact_size: size,
            compile_ms: 0.0,
            deployed_at: String::new(),
            manifest: Default::default(),
            claims: serde_json::from_value(serde_json::json!({
                "iss": "i", "sub": name, "iat": 0, "nbf": 0, "jti": "j",
                "wasmgate": { "hash": "h", "caps": [] }
            }))
            .unwrap(),
            token: String::new(),
            kv_layout: Default::default(),
            original: None,
            engine: None,
            cluster_revision: None,
            adopted_from: None,
        }
    }

    #[test]
    fn the_signed_original_counts_beside_the_artifact() {
        let mut kept = record("a", "sha256:x", 100);
        kept.original = Some("sha256:o".into());
        kept.size = 7;
        let mut same_code = record("b", "sha256:x", 100);
        same_code.original = Some("sha256:o".into());
        same_code.size = 7;
        assert_eq!(stored_bytes(&[kept, same_code]), 107);
    }

    #[test]
    fn a_blob_shared_by_several_functions_is_counted_once() {
        let records = [
            record("a", "sha256:x", 100),
            record("b", "sha256:x", 100),
            record("c", "sha256:y", 30),
        ];
        assert_eq!(stored_bytes(&records), 130);
        assert_eq!(stored_bytes(&[]), 0);
    }
}
