//! The deploy side of signed originals: each deploy keeps its component exactly as signed
//! (`DATA_DIR/originals/<sha256>.wasm`) before its record names it, and a version's original
//! leaves when the version is no longer kept (pruned or deleted) unless another live or kept
//! version uses the same one.
//!
//! Restore reads them back: see [`restore`](crate::restore).

use crate::error::ApiError;
use crate::state::Gateway;
use std::sync::Arc;
use wasmgate_pool::Digest;

/// Stores `module` durably as a signed original and returns its digest. Call with the artifact
/// GC lock held (shared), like the compile, so a concurrent removal cannot take it before the
/// record that names it is published.
pub async fn store(gw: &Arc<Gateway>, module: &Arc<bytes::Bytes>) -> Result<Digest, ApiError> {
    let (gw, module) = (gw.clone(), module.clone());
    tokio::task::spawn_blocking(move || gw.originals.write(&module))
        .await
        .map_err(|e| ApiError::Internal {
            reason: format!("storing the original failed: {e}"),
        })?
        .map_err(ApiError::from)
}

/// Deletes `original` unless a live version (serving or down) or a kept version names it. Takes the artifact
/// GC lock exclusively, so no deploy is between storing the same original and publishing it.
pub async fn remove_if_unused(gw: &Gateway, original: Option<Digest>) {
    let Some(original) = original else { return };
    let _gc = gw.artifact_gc.write().await;
    let still_used = gw
        .catalog
        .snapshot()
        .all_live()
        .any(|d| recorded(&d.record.original) == Some(original))
        // A registry that cannot be read keeps the file: a leftover is collected at start.
        || gw.registry.keeps_blob(&original.to_string()).unwrap_or(true);
    if !still_used && let Err(e) = gw.originals.remove(&original) {
        tracing::warn!(error = %e, "could not remove an unused original");
    }
}

/// The digest a record's `original` field names, if any.
pub fn recorded(original: &Option<String>) -> Option<Digest> {
    original.as_deref().and_then(Digest::parse)
}
