//! Signed originals in the object store `wg_originals`, named by their digest (`sha256:<hex>`).
//!
//! A node that applies a record deployed elsewhere fetches the original, checks its digest
//! itself, re-verifies its signature and compiles it: it never loads code another node compiled
//! (see the gateway's cluster module).

use crate::connection::Cluster;
use crate::error::{Result, unavailable};
use async_nats::jetstream::object_store::InfoErrorKind;

impl Cluster {
    /// Stores `bytes` as the original named `digest` unless an object of that name exists
    /// (content-addressed: same name, same bytes).
    pub async fn put_original(&self, digest: &str, bytes: &[u8]) -> Result<()> {
        let store = self.originals_bucket().await?;
        let doing = format!("storing original {digest}");
        match store.info(digest).await {
            Ok(info) if !info.deleted && info.size as u64 == bytes.len() as u64 => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == InfoErrorKind::NotFound => {}
            Err(e) => return Err(unavailable(&doing, e)),
        }
        let mut reader = bytes;
        store
            .put(digest, &mut reader)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&doing, e))
    }

    /// The original named `digest`, or `None` when the store has none; refuses one larger than
    /// `limit` bytes (stated or read).
    pub async fn original(&self, digest: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let store = self.originals_bucket().await?;
        let doing = format!("reading original {digest}");
        Ok(crate::connection::read_object(store, digest, limit, &doing)
            .await?
            .map(|(bytes, _)| bytes))
    }
}
