//! The shared registry and this node's copy of it.
//!
//! The local redb registry stays the node's cache: a node restarts and serves its last view
//! while NATS is down. [`follow`] brings it in line with the shared one: first every live record
//! (records this node applied before that are gone were deleted elsewhere; records it never
//! shared, deployed before it joined, are published), then every change as it happens. A record
//! is applied once per revision, in revision order per name.
//!
//! Applying a record deployed on another node never loads code that node compiled: the signed
//! original is fetched from the object store, its digest checked against the record, its
//! signature, issuer, hash and validity re-verified against this node's trust (as restore does
//! at start), and it is compiled here. A record this node's trust refuses is kept down with the
//! reason, as restore keeps it.

use super::ClusterNode;
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::registry::Record;
use crate::state::Gateway;
use futures::StreamExt;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_cluster::{Change, Error as ClusterError, Versioned};
use wasmgate_pool::Digest;

/// How long a call to a name this node does not know waits for a read-through slot.
const READ_THROUGH_WAIT: Duration = Duration::from_secs(2);

/// Wait before following the registry again after the connection was lost.
const RETRY: Duration = Duration::from_millis(500);

/// Maps a cluster error to the API's.
pub fn api_error(e: ClusterError) -> ApiError {
    match e {
        ClusterError::Conflict { key } => ApiError::ConcurrentDeploy {
            name: key.trim_start_matches("fn.").to_owned(),
        },
        other => ApiError::ClusterUnavailable {
            reason: other.to_string(),
        },
    }
}

/// Follows the shared registry for as long as the process runs; `synced` fires after the first
/// full sync.
pub async fn follow(
    gw: Arc<Gateway>,
    node: Arc<ClusterNode>,
    synced: tokio::sync::oneshot::Sender<()>,
) {
    let mut synced = Some(synced);
    loop {
        match node.cluster.changes().await {
            Err(e) => tracing::debug!(error = %e, "registry not reachable; retrying"),
            Ok(changes) => {
                reconcile(&gw, &node, changes.snapshot).await;
                for owner in changes.owners {
                    apply(&gw, &node, owner).await;
                }
                if let Some(synced) = synced.take() {
                    let _ = synced.send(());
                }
                let mut live = changes.live;
                while let Some(change) = live.next().await {
                    match change {
                        Ok(change) => apply(&gw, &node, change).await,
                        Err(e) => {
                            tracing::info!(error = %e, "registry watch interrupted; syncing again");
                            break;
                        }
                    }
                }
            }
        }
        tokio::time::sleep(RETRY).await;
    }
}

/// Makes the local registry match `snapshot`, the shared registry's live records.
async fn reconcile(gw: &Arc<Gateway>, node: &Arc<ClusterNode>, snapshot: Vec<(String, Versioned)>) {
    let names: HashSet<&str> = snapshot.iter().map(|(n, _)| n.as_str()).collect();
    let local = gw.catalog.snapshot();
    for deployed in local.sorted() {
        let record = &deployed.record;
        if names.contains(record.name.as_str()) {
            continue;
        }
        match record.cluster_revision {
            // Shared before, gone now: deleted elsewhere while this node was away.
            Some(revision) => remove(gw, node, &record.name, revision).await,
            // Deployed here before this node joined: share it.
            None => share(gw, node, deployed).await,
        }
    }
    for (name, record) in snapshot {
        apply(gw, node, Change::Put { name, record }).await;
    }
}

/// Publishes a record deployed before this node joined the cluster.
async fn share(gw: &Arc<Gateway>, node: &Arc<ClusterNode>, deployed: &Arc<Deployed>) {
    let record = &deployed.record;
    let Some(original) = crate::originals::recorded(&record.original) else {
        tracing::warn!(function = %record.name, "not shared with the cluster: deployed before signed originals were kept; deploy it again");
        return;
    };
    let shared = async {
        let module = gw.originals.read(&original)?;
        node.cluster
            .put_original(&original.to_string(), &module)
            .await
            .map_err(api_error)?;
        let revision = node
            .cluster
            .put_record(&record.name, shared_bytes(record)?, None)
            .await
            .map_err(api_error)?;
        Ok::<u64, ApiError>(revision)
    };
    match shared.await {
        Ok(revision) => {
            let mut record = record.clone();
            record.cluster_revision = Some(revision);
            if let Err(e) = gw.registry.put(&record) {
                tracing::warn!(function = %record.name, error = %e, "shared, but the local copy could not note it");
            }
            tracing::info!(function = %record.name, revision, "shared a function deployed before this node joined the cluster");
        }
        Err(e) => {
            tracing::warn!(function = %record.name, error = %e, "could not share a function deployed before this node joined the cluster")
        }
    }
}

/// A record as the shared registry holds it: without this node's revision.
pub fn shared_bytes(record: &Record) -> Result<bytes::Bytes, ApiError> {
    let mut shared = record.clone();
    shared.cluster_revision = None;
    shared.adopted_from = None;
    serde_json::to_vec(&shared)
        .map(Into::into)
        .map_err(|e| ApiError::Internal {
            reason: format!("record not serialisable: {e}"),
        })
}

/// Applies one change made anywhere in the cluster, unless this node already has it.
pub async fn apply(gw: &Arc<Gateway>, node: &Arc<ClusterNode>, change: Change) {
    match change {
        Change::Put { name, record } => {
            if let Err(e) = apply_put(gw, node, &name, record).await {
                tracing::warn!(function = %name, error = %e, "could not apply a record deployed on another node");
            }
        }
        Change::Delete { name, revision } => remove(gw, node, &name, revision).await,
        Change::Owner { name, issuer, .. } => {
            let _applying = node.applying.lock().await;
            let change = gw.catalog.lock().await;
            match gw.registry.owner(&name) {
                Ok(Some(current)) if current == issuer => {}
                _ => match gw.registry.set_owner(&name, &issuer) {
                    Ok(()) => {
                        tracing::info!(function = %name, owner = %issuer, "applied a transfer made on another node")
                    }
                    Err(e) => {
                        tracing::warn!(function = %name, error = %e, "could not apply a transfer made on another node")
                    }
                },
            }
            drop(change);
        }
    }
}

/// The revision of `name` this node serves, if any.
fn applied(gw: &Gateway, name: &str) -> Option<u64> {
    gw.catalog
        .snapshot()
        .function(name)
        .and_then(|d| d.record.cluster_revision)
}

/// Applies `name`'s record at `versioned.revision` (see the module docs).
async fn apply_put(
    gw: &Arc<Gateway>,
    node: &Arc<ClusterNode>,
    name: &str,
    versioned: Versioned,
) -> Result<(), ApiError> {
    // Lock order, as in deploy: the artifact GC lock (shared), then `applying`, then the
    // catalog; both are released before `retire`, which takes the GC lock exclusively.
    let gc = gw.artifact_gc.read().await;
    let applying = node.applying.lock().await;
    if applied(gw, name).is_some_and(|r| r >= versioned.revision) {
        return Ok(());
    }
    let mut record: Record =
        serde_json::from_slice(&versioned.value).map_err(|e| ApiError::Storage {
            reason: format!("shared record of {name} is malformed: {e}"),
        })?;
    if record.name != name {
        return Err(ApiError::Storage {
            reason: format!("shared record under {name} names {}", record.name),
        });
    }
    record.cluster_revision = Some(versioned.revision);
    let original = fetch_original(gw, node, &record).await?.to_string();
    // The original is re-verified either way. The artifact is one this node already has of the
    // same code (hash without the signature) and grants, compiled by its own engine; else one a
    // node whose key this node trusts compiled with the same engine and signed (`artifacts`);
    // else this node compiles its own.
    record.adopted_from = None;
    let shared = match local_artifact(gw, &record) {
        Some((artifact, size, adopted_from)) => {
            record.artifact = artifact;
            record.artifact_size = size;
            record.engine = Some(gw.pool.engine_fingerprint().to_owned());
            record.adopted_from = adopted_from;
            None
        }
        None => {
            record.engine = None;
            node.artifacts
                .fetch(node, &gw.pool, &original, artifact_limit(gw))
                .await
        }
    };
    let (record, down, adopted) = {
        let gw = gw.clone();
        let node = node.clone();
        let original = original.clone();
        tokio::task::spawn_blocking(move || {
            crate::restore::verify_and_adopt(&gw, record, |grants| {
                let shared = shared?;
                node.artifacts
                    .adopt(&node.metrics, &gw.pool, &shared, &original, grants)
            })
        })
        .await
        .map_err(|e| ApiError::Internal {
            reason: format!("applying {name} failed: {e}"),
        })?
    };
    // Compiled here (now, or before for another function): shared for nodes that trust this
    // one, once it serves here. An adopted artifact is never signed again by this node.
    let publish = (down.is_none() && !adopted && record.adopted_from.is_none())
        .then(|| record.artifact.clone());
    if let Some(cause) = &down {
        node.metrics.applied.with_label_values(&["down"]).inc();
        tracing::warn!(function = %name, code = cause.classify().1, error = %cause, "a function deployed on another node is down here: this node's checks refuse it");
    }
    let deployed = gw.deployed_or_down(record.clone(), down.map(Arc::new))?;
    let change = gw.catalog.lock().await;
    gw.registry.put(&record)?;
    let old = gw.catalog.insert(&change, deployed.clone())?;
    drop(change);
    drop(applying);
    drop(gc);
    if let Some(old) = &old {
        crate::admin::retire(gw, old).await;
    }
    if deployed.down.is_none() {
        crate::admin::start(gw, &deployed);
    }
    node.metrics.applied.with_label_values(&["put"]).inc();
    tracing::info!(function = %name, revision = versioned.revision, digest = %record.digest, adopted, "applied a deploy made on another node");
    if let Some(artifact) = publish
        && node.artifacts.public_key().is_some()
    {
        // In the background: the watch goes on applying records meanwhile.
        let (node, pool) = (node.clone(), gw.pool.clone());
        tokio::spawn(async move {
            node.artifacts
                .publish(&node, &pool, &original, &artifact)
                .await;
        });
    }
    Ok(())
}

/// The largest shared artifact a node reads: 8 × `max_module_size`. Precompiled code is a few
/// times its component (the JavaScript and Python components of `bench/COLDSTART.md` compile to
/// about 3× and 2×), and `max_module_size` bounds the component.
fn artifact_limit(gw: &Gateway) -> u64 {
    gw.settings.max_module_size.bytes().saturating_mul(8)
}

/// An artifact this node compiled (or adopted from a node it still trusts) from the same code
/// with the same grants, if a deployed function uses one, with the key it was adopted from
/// (call with the artifact GC lock held, so it stays).
fn local_artifact(gw: &Gateway, record: &Record) -> Option<(String, u64, Option<String>)> {
    let snapshot = gw.catalog.snapshot();
    let same = snapshot.sorted().into_iter().find(|d| {
        d.down.is_none()
            && d.record.claims.wasmgate.hash == record.claims.wasmgate.hash
            && d.record.claims.wasmgate.caps == record.claims.wasmgate.caps
            && d.record.engine.as_deref() == Some(gw.pool.engine_fingerprint())
            && super::artifacts::still_trusted(gw, &d.record)
    })?;
    Some((
        same.record.artifact.clone(),
        same.record.artifact_size,
        same.record.adopted_from.clone(),
    ))
}

/// Makes sure the original `record` names is in this node's original store, fetching it from
/// the cluster and checking its digest when it is not.
async fn fetch_original(
    gw: &Arc<Gateway>,
    node: &ClusterNode,
    record: &Record,
) -> Result<Digest, ApiError> {
    let digest = crate::originals::recorded(&record.original).ok_or_else(|| ApiError::Storage {
        reason: format!("shared record of {} names no original", record.name),
    })?;
    if gw.originals.path(&digest).exists() {
        return Ok(digest);
    }
    let bytes = node
        .cluster
        .original(&digest.to_string(), gw.settings.max_module_size.bytes())
        .await
        .map_err(api_error)?
        .ok_or_else(|| ApiError::ClusterUnavailable {
            reason: format!(
                "the original {digest} of {} is not in the cluster's store",
                record.name
            ),
        })?;
    let actual = Digest::of(&bytes);
    if actual != digest {
        return Err(ApiError::OriginalTampered {
            function: record.name.clone(),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    let gw = gw.clone();
    tokio::task::spawn_blocking(move || gw.originals.write(&bytes))
        .await
        .map_err(|e| ApiError::Internal {
            reason: format!("storing an original failed: {e}"),
        })??;
    Ok(digest)
}

/// Removes `name` here if this node's copy is older than the delete at `revision`.
async fn remove(gw: &Arc<Gateway>, node: &ClusterNode, name: &str, revision: u64) {
    let applying = node.applying.lock().await;
    if applied(gw, name).is_none_or(|r| r >= revision) {
        return;
    }
    let change = gw.catalog.lock().await;
    if let Err(e) = gw.registry.remove(name) {
        tracing::warn!(function = %name, error = %e, "could not remove a function deleted on another node");
        return;
    }
    let old = gw.catalog.remove(&change, name);
    drop(change);
    // Released before `retire`, which takes the artifact GC lock exclusively: a deploy holding
    // it shared may be waiting for `applying`.
    drop(applying);
    for old in &old {
        crate::admin::retire(gw, old).await;
    }
    gw.forget_metrics(name);
    gw.pool.forget_guest_log(name);
    node.metrics.applied.with_label_values(&["delete"]).inc();
    tracing::info!(function = %name, revision, "applied a delete made on another node");
}

/// Reads `name`'s shared record and applies it when this node has not seen it yet (a call that
/// arrived before the watch delivered the deploy); false when there is none or the registry
/// cannot be asked. At most a few run at once; a call waits for its
/// turn (2 s; the first call after a deploy elsewhere waits for the compile), then it is a 404.
pub async fn read_through(gw: &Arc<Gateway>, node: &Arc<ClusterNode>, name: &str) -> bool {
    if wasmgate_config::FunctionName::try_from(name.to_owned()).is_err() {
        return false;
    }
    let Ok(Ok(_permit)) =
        tokio::time::timeout(READ_THROUGH_WAIT, node.read_through.acquire()).await
    else {
        return false;
    };
    // Another call may have applied it while this one waited.
    if gw.catalog.snapshot().function(name).is_some() {
        return true;
    }
    match node.cluster.record(name).await {
        Ok(Some(record)) => {
            apply(
                gw,
                node,
                Change::Put {
                    name: name.to_owned(),
                    record,
                },
            )
            .await;
            gw.catalog.snapshot().function(name).is_some()
        }
        Ok(None) => false,
        Err(e) => {
            tracing::debug!(function = %name, error = %e, "read-through failed");
            false
        }
    }
}
