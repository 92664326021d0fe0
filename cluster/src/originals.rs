//! Signed originals in the object store `wg_originals`, named by their digest (`sha256:<hex>`).
//!
//! A node that applies a record deployed elsewhere fetches the original, checks its digest
//! itself, re-verifies its signature and compiles it: it never loads code another node compiled
//! (see the gateway's cluster module).

use crate::connection::Cluster;
use crate::error::{Error, Result, unavailable};
use async_nats::jetstream::object_store::{GetErrorKind, InfoErrorKind};
use tokio::io::AsyncReadExt;

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
    /// `limit` bytes before reading it.
    pub async fn original(&self, digest: &str, limit: u64) -> Result<Option<Vec<u8>>> {
        let store = self.originals_bucket().await?;
        let doing = format!("reading original {digest}");
        let mut object = match store.get(digest).await {
            Ok(object) => object,
            Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(unavailable(&doing, e)),
        };
        let size = object.info().size as u64;
        if size > limit {
            return Err(Error::TooLarge {
                key: digest.to_owned(),
                size,
                limit,
            });
        }
        let mut bytes = Vec::with_capacity(size as usize);
        object
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| unavailable(&doing, e))?;
        Ok(Some(bytes))
    }
}
