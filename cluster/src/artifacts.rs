//! Precompiled artifacts in the object store `wg_artifacts`, shared between nodes that trust
//! each other's node keys, so a deploy is compiled once per engine instead of once per node.
//!
//! An object is named `cwasm/<engine fingerprint>/<original digest>` and carries, in its
//! metadata, what a node needs to decide whether to load it: the key of the node that compiled
//! it, the SHA-256 of its bytes and that node's signature. This crate stores and reads the bytes
//! and the metadata; it decides nothing. Checking the signature against the trusted node keys,
//! and the bytes against the signed digest, is the gateway's (`cluster::artifacts`), and a node
//! that finds nothing it may load compiles the verified original itself.
//!
//! The bucket keeps objects for [`ARTIFACT_MAX_AGE`]: an artifact is a cache of a compile, so one
//! that expired costs a node one compile and nothing else.

use crate::connection::{Cluster, read_object};
use crate::error::{Result, unavailable};
use async_nats::jetstream::object_store::{InfoErrorKind, ObjectMetadata};
use async_nats::jetstream::{self, object_store};
use std::collections::HashMap;
use std::time::Duration;

/// Object store of precompiled artifacts.
pub const ARTIFACTS_BUCKET: &str = "wg_artifacts";

/// How long a shared artifact is kept: a week, after which a node applying an older deploy
/// compiles it itself.
pub const ARTIFACT_MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// The object name of the artifact compiled by an engine with `fingerprint` from the original
/// named `original` (`sha256:<hex>`).
pub fn artifact_name(fingerprint: &str, original: &str) -> String {
    format!("cwasm/{fingerprint}/{original}")
}

/// One shared artifact as read back: its bytes and the metadata it was stored with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedArtifact {
    /// The precompiled bytes.
    pub bytes: Vec<u8>,
    /// The metadata written with them (string keys and values).
    pub metadata: HashMap<String, String>,
}

impl Cluster {
    /// Stores `bytes` as the artifact `name` with `metadata`, unless an object of that name, size
    /// and metadata exists (the same node signing the same bytes again: Ed25519 signatures are
    /// deterministic, RFC 8032 §5.1.6). An object another node signed is replaced, so an
    /// artifact never stays stuck under a signer its readers may not trust.
    pub async fn put_artifact(
        &self,
        name: &str,
        bytes: &[u8],
        metadata: HashMap<String, String>,
    ) -> Result<()> {
        let store = self.artifacts_bucket().await?;
        let doing = format!("storing artifact {name}");
        match store.info(name).await {
            Ok(info)
                if !info.deleted
                    && info.size as u64 == bytes.len() as u64
                    && info.metadata == metadata =>
            {
                return Ok(());
            }
            Ok(_) => {}
            Err(e) if e.kind() == InfoErrorKind::NotFound => {}
            Err(e) => return Err(unavailable(&doing, e)),
        }
        let mut reader = bytes;
        store
            .put(
                ObjectMetadata {
                    name: name.to_owned(),
                    metadata,
                    ..Default::default()
                },
                &mut reader,
            )
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&doing, e))
    }

    /// The artifact `name`, or `None` when the store has none; refuses one larger than `limit`
    /// bytes before reading it.
    pub async fn artifact(&self, name: &str, limit: u64) -> Result<Option<SharedArtifact>> {
        let store = self.artifacts_bucket().await?;
        let doing = format!("reading artifact {name}");
        Ok(read_object(store, name, limit, &doing)
            .await?
            .map(|(bytes, metadata)| SharedArtifact { bytes, metadata }))
    }

    pub(crate) async fn artifacts_bucket(&self) -> Result<&object_store::ObjectStore> {
        self.artifacts
            .get_or_try_init(|| async {
                match self.jetstream().get_object_store(ARTIFACTS_BUCKET).await {
                    Ok(store) => Ok(store),
                    Err(_) => self
                        .jetstream()
                        .create_object_store(object_store::Config {
                            bucket: ARTIFACTS_BUCKET.to_owned(),
                            description: Some(
                                "wasmgate precompiled artifacts (cwasm/<engine>/<original>), signed by node keys"
                                    .to_owned(),
                            ),
                            max_age: ARTIFACT_MAX_AGE,
                            storage: jetstream::stream::StorageType::File,
                            num_replicas: self.options().replicas,
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| unavailable("creating the artifacts store", e)),
                }
            })
            .await
    }
}
