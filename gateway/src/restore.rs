//! Restore at start: every registered function comes back before the gateway reports ready,
//! re-verified from its signed original, rebuilt when its artifact was compiled by another engine,
//! or down with the reason.
//!
//! For each record, on the blocking pool, a few at a time:
//! 1. its original (`DATA_DIR/originals/<sha256>.wasm`) must hash to the digest recorded at
//!    deploy, else it is down as `module_tampered`; unreadable, as `original_unavailable`;
//! 2. it must pass deploy's own checks against today's trusted issuers and clock (signature,
//!    issuer, hash, `exp`, `nbf`, name, capabilities), else it is down with deploy's code
//!    (`expired`, `untrusted_issuer`, `bad_signature`, ...);
//! 3. an artifact recorded with another engine fingerprint (another wasmtime, other CPU features,
//!    another `pool.memory_guard`) is compiled again from the verified original, stored, and the
//!    record updated durably (all rebuilt records in one transaction); the old artifact goes.
//!
//! A record from before originals were kept has no original: it serves as it did, after its
//! recorded claims pass the issuer and validity-window checks, and one warning at start names it.
//! A down function stays registered (listed with its reason, its files kept) so an admin can
//! deploy it again or delete it, and a restart that trusts its issuer again serves it.
//!
//! Every live version comes back: a function whose traffic was split is split again with the
//! same weights. Kept versions that take no traffic are not checked here (a rollback checks the
//! one it makes live), but their artifacts and originals stay on disk.

use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::originals::recorded;
use crate::registry::Record;
use crate::state::Gateway;
use crate::traffic::Split;
use futures::stream::{self, StreamExt};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use wasmgate_config::{CapabilitySet, FunctionName};
use wasmgate_pool::{Compiled, Digest};

/// Names of functions without an original listed in the start-up warning; the rest are counted.
const LEGACY_NAMES_SHOWN: usize = 10;

/// What restore decided for one record.
enum Outcome {
    /// Serve as recorded: its original re-verified and its artifact fits this engine.
    Serve(Record),
    /// Serve the artifact just rebuilt from the verified original; `record` names it.
    Rebuilt {
        record: Record,
        old_artifact: String,
        took: Duration,
    },
    /// Serve as before without re-verifying: it was deployed before originals were kept.
    Legacy(Record),
    /// Keep it registered, refusing calls for this reason.
    Down(Record, ApiError),
}

/// Artifacts rebuilt during this restore, by code hash and grants: the same component deployed
/// under several names is compiled once.
type Rebuilds = Arc<Mutex<HashMap<(String, CapabilitySet), Compiled>>>;

/// Restores every registered function into the catalog, then removes artifacts and originals
/// no record names (debris of a deploy cut short by a crash).
pub async fn restore(gw: &Arc<Gateway>) -> Result<(), ApiError> {
    let started = Instant::now();
    let live = gw.registry.all_live()?;
    let mut records = gw.registry.all()?;
    // The other live versions of split functions come back beside their primary one.
    for (name, weights) in live.iter().map(|(n, l)| (n, &l.weights)) {
        for (version, _) in weights.iter().filter(|(v, _)| *v != weights.primary()) {
            records.extend(gw.registry.version(name, version)?);
        }
    }
    let live_originals: HashSet<Digest> = records
        .iter()
        .filter_map(|r| recorded(&r.original))
        .chain(
            gw.registry
                .kept_blobs()?
                .iter()
                .filter_map(|d| Digest::parse(d)),
        )
        .collect();
    let now = SystemTime::now();
    let rebuilds = Rebuilds::default();
    // Reading and hashing originals is I/O and CPU: one task per core keeps both busy.
    let width = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut outcomes = stream::iter(records)
        .map(|record| {
            let (gw, rebuilds) = (gw.clone(), rebuilds.clone());
            let name = record.name.clone();
            async move {
                tokio::task::spawn_blocking(move || check(&gw, record, now, &rebuilds))
                    .await
                    .map_err(|e| ApiError::Internal {
                        reason: format!("restoring function {name} failed: {e}"),
                    })
            }
        })
        .buffer_unordered(width)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    outcomes.sort_by(|a, b| {
        let (a, b) = (a.record(), b.record());
        (&a.name, a.version).cmp(&(&b.name, b.version))
    });

    let mut live_artifacts = HashSet::new();
    let mut rebuilt = Vec::new();
    let mut replaced = HashSet::new();
    let mut legacy = Vec::new();
    let mut down = 0usize;
    let mut restored = Vec::with_capacity(outcomes.len());
    for outcome in outcomes {
        let (record, cause) = match outcome {
            Outcome::Serve(record) => (record, None),
            Outcome::Rebuilt {
                record,
                old_artifact,
                took,
            } => {
                tracing::info!(
                    function = %record.name,
                    took_ms = took.as_secs_f64() * 1000.0,
                    old_artifact = %old_artifact,
                    artifact = %record.artifact,
                    "rebuilt the artifact from the verified original: it was compiled by another engine"
                );
                gw.metrics.artifacts_rebuilt.inc();
                rebuilt.push(record.clone());
                replaced.extend(Digest::parse(&old_artifact));
                (record, None)
            }
            Outcome::Legacy(record) => {
                legacy.push(record.name.clone());
                (record, None)
            }
            Outcome::Down(record, cause) => {
                let (_, code, _) = cause.classify();
                tracing::warn!(
                    function = %record.name,
                    code,
                    error = %cause,
                    "function is down: its original failed re-verification at start; it refuses calls until deployed again"
                );
                down += 1;
                (record, Some(Arc::new(cause)))
            }
        };
        let name = record.name.clone();
        match gw.deployed_or_down(record, cause) {
            Ok(deployed) => {
                live_artifacts.insert(deployed.function.artifact());
                restored.push(deployed);
            }
            // One bad record must not keep every other function offline.
            Err(e) => tracing::error!(function = %name, error = %e, "cannot restore function"),
        }
    }
    if !rebuilt.is_empty()
        && let Err(e) = gw.registry.put_all(&rebuilt)
    {
        // They serve the new artifacts now; the old ones stay for the next start to rebuild from.
        tracing::error!(error = %e, "could not record the rebuilt artifacts: the next start rebuilds them again");
        live_artifacts.extend(replaced);
    }
    // Read after the rebuilt records are written: a rebuilt version no longer keeps its old
    // artifact (a failed write keeps it, above).
    let kept = gw.registry.kept_blobs()?;
    live_artifacts.extend(kept.iter().filter_map(|d| Digest::parse(d)));
    warn_legacy(&legacy);
    let (primaries, splits) = split_again(&live, restored);
    publish(gw, &primaries, splits).await;
    let removed_artifacts = gw.pool.retain_artifacts(&live_artifacts)?;
    let removed_originals = gw.originals.retain(&live_originals)?;
    tracing::info!(
        functions = gw.catalog.snapshot().len(),
        rebuilt = rebuilt.len(),
        down,
        without_original = legacy.len(),
        removed_artifacts,
        removed_originals,
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "restored registry"
    );
    Ok(())
}

impl Outcome {
    fn record(&self) -> &Record {
        match self {
            Outcome::Serve(record)
            | Outcome::Rebuilt { record, .. }
            | Outcome::Legacy(record)
            | Outcome::Down(record, _) => record,
        }
    }
}

/// Re-verifies `record`'s original against today's trust and clock and compiles it for this
/// engine unless its artifact already is this engine's, as restore does at start (a record
/// applied from the cluster comes with `engine: None`, so it is always compiled here); blocking.
/// Returns the record to serve and, when this node refuses it, why.
pub(crate) fn verify_and_build(gw: &Gateway, record: Record) -> (Record, Option<ApiError>) {
    match check(gw, record, SystemTime::now(), &Rebuilds::default()) {
        Outcome::Serve(record) | Outcome::Legacy(record) | Outcome::Rebuilt { record, .. } => {
            (record, None)
        }
        Outcome::Down(record, cause) => (record, Some(cause)),
    }
}

/// As [`verify_and_build`] for a record deployed on another node, offered an artifact a peer
/// compiled: once the original is re-verified, `adopt` is given its grants and may return an
/// artifact it checked and stored (digest, size); when it returns `None` the original is compiled
/// here. Blocking. Returns the record to serve, why this node refuses it if it does, and whether
/// the artifact was adopted.
pub(crate) fn verify_and_adopt(
    gw: &Gateway,
    mut record: Record,
    adopt: impl FnOnce(CapabilitySet) -> Option<(Digest, u64, String)>,
) -> (Record, Option<ApiError>, bool) {
    let Some(original) = record.original.clone() else {
        let (record, down) = verify_and_build(gw, record);
        return (record, down, false);
    };
    if record.engine.as_deref() == Some(gw.pool.engine_fingerprint()) {
        let (record, down) = verify_and_build(gw, record);
        return (record, down, false);
    }
    let (module, grants) = match verify(gw, &record, &original, SystemTime::now()) {
        Ok(verified) => verified,
        Err(e) => return (record, Some(e), false),
    };
    if let Some((artifact, size, key)) = adopt(grants) {
        record.artifact = artifact.to_string();
        record.artifact_size = size;
        record.engine = Some(gw.pool.engine_fingerprint().to_owned());
        // Not compiled here: the peer's compile time would read as this node's.
        record.compile_ms = 0.0;
        record.adopted_from = Some(key);
        return (record, None, true);
    }
    match rebuild(gw, record, &module, grants, &Rebuilds::default()) {
        Outcome::Serve(record) | Outcome::Legacy(record) | Outcome::Rebuilt { record, .. } => {
            (record, None, false)
        }
        Outcome::Down(record, cause) => (record, Some(cause), false),
    }
}

/// Decides one record's fate; blocking (reads, hashes and may compile).
fn check(gw: &Gateway, record: Record, now: SystemTime, rebuilds: &Rebuilds) -> Outcome {
    let Some(original) = record.original.clone() else {
        return match gw.admission.verify_recorded(&record.claims, now) {
            Ok(()) => Outcome::Legacy(record),
            Err(e) => Outcome::Down(record, e),
        };
    };
    let (module, grants) = match verify(gw, &record, &original, now) {
        Ok(verified) => verified,
        Err(e) => return Outcome::Down(record, e),
    };
    // An artifact adopted from a node key this node no longer trusts is compiled again.
    if record.engine.as_deref() == Some(gw.pool.engine_fingerprint())
        && crate::cluster::artifacts::still_trusted(gw, &record)
    {
        return Outcome::Serve(record);
    }
    rebuild(gw, record, &module, grants, rebuilds)
}

/// Reads the original `record` names and checks it as deploy did; returns it and its grants.
fn verify(
    gw: &Gateway,
    record: &Record,
    original: &str,
    now: SystemTime,
) -> Result<(Vec<u8>, CapabilitySet), ApiError> {
    let digest = Digest::parse(original).ok_or_else(|| ApiError::Storage {
        reason: format!(
            "record {} names a malformed original {original:?}",
            record.name
        ),
    })?;
    let module = gw.originals.read(&digest)?;
    let actual = Digest::of(&module);
    if actual != digest {
        return Err(ApiError::OriginalTampered {
            function: record.name.clone(),
            expected: digest.to_string(),
            actual: actual.to_string(),
        });
    }
    let name = FunctionName::try_from(record.name.clone())?;
    let admitted = gw.admission.verify(&name, &module, now)?;
    Ok((module, admitted.grants))
}

/// Compiles `module` again with this engine and points `record` at the new artifact.
fn rebuild(
    gw: &Gateway,
    mut record: Record,
    module: &[u8],
    grants: CapabilitySet,
    rebuilds: &Rebuilds,
) -> Outcome {
    let key = (record.claims.wasmgate.hash.clone(), grants);
    let done = rebuilds.lock().ok().and_then(|r| r.get(&key).cloned());
    let started = Instant::now();
    let compiled = match done {
        Some(compiled) => compiled,
        None => match gw.pool.compile(module, grants) {
            Ok(compiled) => {
                if let Ok(mut rebuilds) = rebuilds.lock() {
                    rebuilds.insert(key, compiled.clone());
                }
                compiled
            }
            Err(e) => return Outcome::Down(record, e.into()),
        },
    };
    let old_artifact = std::mem::replace(&mut record.artifact, compiled.artifact.to_string());
    record.artifact_size = compiled.artifact_size;
    record.compile_ms = compiled.compile_time.as_secs_f64() * 1000.0;
    record.engine = Some(gw.pool.engine_fingerprint().to_owned());
    record.adopted_from = None;
    Outcome::Rebuilt {
        record,
        old_artifact,
        took: started.elapsed(),
    }
}

/// Says once which functions cannot be re-verified or rebuilt, and how to fix that.
fn warn_legacy(legacy: &[String]) {
    if legacy.is_empty() {
        return;
    }
    let shown: Vec<&str> = legacy
        .iter()
        .take(LEGACY_NAMES_SHOWN)
        .map(String::as_str)
        .collect();
    tracing::warn!(
        functions = legacy.len(),
        names = %shown.join(", "),
        "functions deployed before signed originals were kept serve as before, but a restart cannot re-verify their signature or rebuild them after an upgrade: deploy them again"
    );
}

/// Sorts restored versions (in name and version order) into each function's primary version
/// and the splits of functions whose traffic was split; a split missing a version (it could
/// not be restored) serves its primary version alone.
fn split_again(
    live: &std::collections::BTreeMap<String, crate::registry::Live>,
    restored: Vec<Arc<Deployed>>,
) -> (Vec<Arc<Deployed>>, Vec<Split>) {
    let mut primaries = Vec::new();
    let mut splits = Vec::new();
    let mut by_name: std::collections::BTreeMap<String, Vec<Arc<Deployed>>> = Default::default();
    for deployed in restored {
        by_name
            .entry(deployed.record.name.clone())
            .or_default()
            .push(deployed);
    }
    for (name, versions) in by_name {
        let weights = live.get(&name).map(|l| &l.weights);
        let primary_version = weights.map(|w| w.primary());
        let Some(primary) = versions
            .iter()
            .find(|d| Some(d.record.version) == primary_version)
            .or_else(|| versions.first())
            .cloned()
        else {
            continue;
        };
        if let Some(weights) = weights.filter(|w| !w.is_single()) {
            if weights.iter().count() == versions.len() {
                splits.push(Split::new(weights, versions, &primary));
            } else {
                tracing::error!(function = %name, "a version of the traffic split could not be restored: its primary version takes all traffic until the traffic is set again");
            }
        }
        primaries.push(primary);
    }
    (primaries, splits)
}

/// Publishes the restored functions in one snapshot and starts the ones that serve.
async fn publish(gw: &Arc<Gateway>, primaries: &[Arc<Deployed>], splits: Vec<Split>) {
    let others: Vec<Arc<Deployed>> = splits
        .iter()
        .flat_map(|s| s.versions().iter())
        .filter(|d| !primaries.iter().any(|p| Arc::ptr_eq(p, d)))
        .cloned()
        .collect();
    let guard = gw.catalog.lock().await;
    // One snapshot for all of them: inserting one by one rebuilds it each time (quadratic).
    if let Err(e) = gw.catalog.insert_all(&guard, primaries.to_vec(), splits) {
        tracing::error!(error = %e, "restored functions conflict; restoring one by one");
        for deployed in primaries {
            if let Err(e) = gw.catalog.insert(&guard, deployed.clone()) {
                tracing::error!(function = %deployed.record.name, error = %e, "cannot restore function");
            }
        }
    }
    // A down function subscribes to nothing and keeps no instance ready.
    for deployed in primaries.iter().filter(|d| d.down.is_none()) {
        crate::admin::start(gw, deployed);
    }
    for deployed in others.iter().filter(|d| d.down.is_none()) {
        crate::admin::prestart(deployed);
    }
}

#[cfg(test)]
mod tests;
