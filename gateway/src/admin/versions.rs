//! `GET /functions/{name}/versions`, `POST /functions/{name}/rollback` and `PUT
//! /functions/{name}/traffic`: the kept versions of a function and which of them serve.
//!
//! Rollback and traffic changes are admin acts: they may make live a version signed before the
//! one serving (past the no-downgrade rule a deploy obeys), but never one that would not deploy
//! today. Every version that becomes live again is re-verified from its kept signed original
//! against today's trusted issuers and clock (and rebuilt if this engine did not compile it); a
//! version that fails is refused with its own code (`expired`, `untrusted_issuer`,
//! `module_tampered`, ...) and nothing changes. A version with a `[health]` check must pass it
//! before it is live again (`422 health_check_failed` otherwise; the check runs with the
//! function's change lock held, so other changes to it wait up to the check's timeout).
//! Neither act creates a version number: the live pointer moves. Calls in flight finish on the
//! version they started on. In cluster mode a rollback is shared through the cluster's
//! registry like a deploy; a traffic split is refused there (`501 not_in_cluster`).

use super::deploy::{prestart, release, retire, start};
use crate::admission::check_owner;
use crate::error::ApiError;
use crate::health_check::Stage;
use crate::incoming::Incoming;
use crate::registry::Record;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use crate::traffic::{Split, Weights};
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use wasmgate_config::FunctionName;

/// Largest rollback or traffic body: a small JSON object (a thousand versions fit).
const MAX_BODY: u64 = 64 << 10;

/// The body of a rollback to a named version.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rollback {
    /// The version to make live.
    version: u64,
}

/// Every kept version of `name`, oldest first, with the live weights: `{"name", "live":
/// {"7": 90, "8": 10}, "next_version", "keep", "versions": [{"version", "digest", "size",
/// "issuer", "deployed_at", "manifest", "claims", "original", "weight"}]}` (`weight` is `null`
/// for a version that is not live).
pub fn list(gw: &Gateway, name: &str) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let live = gw
        .registry
        .live(name.as_str())?
        .ok_or_else(|| not_found(&name))?;
    let versions = gw.registry.versions(name.as_str())?;
    let weight = |v: u64| live.weights.iter().find(|(k, _)| *k == v).map(|(_, w)| w);
    let versions: Vec<Value> = versions
        .iter()
        .map(|r| {
            let mut entry = describe(r);
            entry["weight"] = json!(weight(r.version));
            entry
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &json!({
            "name": name.as_str(),
            "live": weights_json(&live.weights),
            "next_version": live.next_version,
            "keep": gw.settings.versions.keep,
            "versions": versions,
        }),
    ))
}

/// Makes one kept version all of `name`'s traffic: the body's `{"version": K}`, or with an empty
/// body the newest kept version older than the one taking the largest share now.
pub async fn rollback(
    gw: &Arc<Gateway>,
    name: &str,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned());
    let body = read(gw, req).await?;
    let name = name?;
    let asked = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let rollback: Rollback =
            serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
                reason: format!(
                    "the rollback body must be empty (back to the previous version) or {{\"version\": K}} naming a kept version: {e}"
                ),
            })?;
        Some(rollback.version)
    };
    let gc = gw.artifact_gc.read().await;
    // Lock order, as in deploy: the artifact GC lock, the cluster's `applying`, the catalog.
    let applying = match &gw.cluster {
        Some(node) => Some(node.applying.lock().await),
        None => None,
    };
    let change = gw.catalog.lock().await;
    let live = gw
        .registry
        .live(name.as_str())?
        .ok_or_else(|| not_found(&name))?;
    let kept = kept_numbers(gw, &name)?;
    let current = live.weights.primary();
    let target = match asked {
        Some(version) => version,
        None => kept
            .iter()
            .copied()
            .filter(|v| *v < current)
            .max()
            .ok_or_else(|| ApiError::NoPreviousVersion {
                name: name.as_str().to_owned(),
                live: current,
            })?,
    };
    if !kept.contains(&target) {
        return Err(ApiError::VersionNotFound {
            name: name.as_str().to_owned(),
            version: target,
            kept,
        });
    }
    let answer = apply(gw, &name, Weights::single(target), gc, applying, change).await?;
    tracing::info!(function = %name, from = current, to = target, "rolled back");
    Ok(answer)
}

/// Splits `name`'s traffic between kept versions by the body's weights (`{"7": 90, "8": 10}`,
/// whole percent summing to 100; see [`Weights::parse`]).
pub async fn traffic(
    gw: &Arc<Gateway>,
    name: &str,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned());
    let body = read(gw, req).await?;
    let name = name?;
    not_in_cluster(gw, "a traffic split")?;
    let gc = gw.artifact_gc.read().await;
    let change = gw.catalog.lock().await;
    let kept = kept_numbers(gw, &name)?;
    if kept.is_empty() {
        return Err(not_found(&name));
    }
    let weights = Weights::parse(&body, |v| kept.contains(&v))?;
    let answer = apply(gw, &name, weights.clone(), gc, None, change).await?;
    tracing::info!(function = %name, weights = %weights_json(&weights), "traffic set");
    Ok(answer)
}

/// The numbers of `name`'s kept versions, in the registry's order.
fn kept_numbers(gw: &Gateway, name: &FunctionName) -> Result<Vec<u64>, ApiError> {
    Ok(gw
        .registry
        .versions(name.as_str())?
        .iter()
        .map(|r| r.version)
        .collect())
}

/// Makes `to` live for `name` if its live weights are still `expected` (a canary's verdict,
/// unless an admin changed the traffic since); `Ok(false)` when they are not, changing nothing.
pub async fn set_traffic_if(
    gw: &Arc<Gateway>,
    name: &str,
    expected: &Weights,
    to: Weights,
) -> Result<bool, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let gc = gw.artifact_gc.read().await;
    let change = gw.catalog.lock().await;
    match gw.registry.live(name.as_str())? {
        Some(live) if live.weights == *expected => {
            apply(gw, &name, to, gc, None, change).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Makes `weights` live for `name`: each version not live now is re-verified, built and
/// health-checked, then (in cluster mode, where only a single version is made live) its record
/// is written to the shared registry if no node changed the name since this one applied it
/// (`409 concurrent_deploy` otherwise; every node then applies it as it applies a deploy), then
/// the weights are written durably, then published; versions no longer live are retired.
/// `applying` is the cluster's lock, held in cluster mode.
async fn apply(
    gw: &Arc<Gateway>,
    name: &FunctionName,
    weights: Weights,
    gc: tokio::sync::RwLockReadGuard<'_, ()>,
    applying: Option<tokio::sync::MutexGuard<'_, ()>>,
    change: crate::catalog::ChangeGuard<'_>,
) -> Result<GatewayResponse, ApiError> {
    let snapshot = gw.catalog.snapshot();
    let owner = gw.registry.owner(name.as_str())?;
    let mut entries = Vec::new();
    let mut fresh = Vec::new();
    for (version, _) in weights.iter() {
        if let Some(serving) = snapshot
            .tagged(name.as_str(), version)
            .filter(|d| d.down.is_none())
        {
            entries.push(serving.clone());
            continue;
        }
        let record = gw
            .registry
            .version(name.as_str(), version)?
            .ok_or_else(|| ApiError::VersionNotFound {
                name: name.as_str().to_owned(),
                version,
                kept: Vec::new(),
            })?;
        let record = verified(gw, record).await?;
        check_owner(name.as_str(), &record.claims.iss, owner.as_deref())?;
        let deployed = gw.deployed(record)?;
        if let Err(e) = crate::health_check::gate(gw, &deployed, Stage::Traffic).await {
            for unused in fresh.iter().chain([&deployed]) {
                unused.function.unload().await;
            }
            return Err(e);
        }
        fresh.push(deployed.clone());
        entries.push(deployed);
    }
    let primary_version = weights.primary();
    let mut primary = entries
        .iter()
        .find(|d| d.record.version == primary_version)
        .cloned()
        .ok_or_else(|| ApiError::Internal {
            reason: format!("no entry for the primary version of {name}"),
        })?;
    gw.catalog.check(&primary)?;
    if let Some(node) = &gw.cluster {
        let shared = share(gw, node, &snapshot, &primary).await;
        let shared = match shared {
            Ok(shared) => shared,
            Err(e) => {
                for unused in &fresh {
                    unused.function.unload().await;
                }
                return Err(e);
            }
        };
        // The entry the health check warmed is replaced by one carrying the new revision.
        if fresh.iter().any(|d| Arc::ptr_eq(d, &primary)) {
            primary.function.unload().await;
        }
        fresh.retain(|d| !Arc::ptr_eq(d, &primary));
        entries.retain(|d| !Arc::ptr_eq(d, &primary));
        primary = shared;
        fresh.push(primary.clone());
        entries.push(primary.clone());
    }
    let records: Vec<Record> = entries.iter().map(|d| d.record.clone()).collect();
    let pruned = gw.registry.set_live(name.as_str(), &weights, &records)?;
    let split = (!weights.is_single()).then(|| Split::new(&weights, entries.clone(), &primary));
    let previous_primary = snapshot.function(name.as_str()).cloned();
    let old = gw.catalog.publish(&change, primary.clone(), split)?;
    drop(change);
    drop(applying);
    drop(gc);

    for old in &old {
        retire(gw, old).await;
    }
    // Triggers follow the primary version; the other live versions only get instances ready.
    if let Some(previous) = previous_primary
        .filter(|p| !Arc::ptr_eq(p, &primary) && entries.iter().any(|d| Arc::ptr_eq(d, p)))
    {
        previous.subscriptions.stop();
    }
    let primary_is_fresh = fresh.iter().any(|d| Arc::ptr_eq(d, &primary));
    let primary_was_primary = snapshot
        .function(name.as_str())
        .is_some_and(|p| Arc::ptr_eq(p, &primary));
    if !primary_is_fresh && !primary_was_primary {
        crate::triggers::start(gw, &primary);
    }
    for deployed in &fresh {
        if Arc::ptr_eq(deployed, &primary) {
            start(gw, deployed);
        } else {
            prestart(deployed);
        }
    }
    release(gw, &pruned).await;
    Ok(json(
        StatusCode::OK,
        &json!({
            "name": name.as_str(),
            "live": weights_json(&weights),
            "versions": entries.iter().map(|d| describe(&d.record)).collect::<Vec<_>>(),
        }),
    ))
}

/// Writes `primary`'s record to the cluster's shared registry in place of the revision this
/// node serves (compare-and-swap: `409 concurrent_deploy` when another node changed the name
/// since), and returns the catalog entry carrying the new revision. The record's original is in
/// the cluster's store since its deploy; the other nodes re-verify and compile it themselves.
async fn share(
    gw: &Gateway,
    node: &crate::cluster::ClusterNode,
    snapshot: &crate::catalog::Snapshot,
    primary: &Arc<crate::catalog::Deployed>,
) -> Result<Arc<crate::catalog::Deployed>, ApiError> {
    let expected = snapshot
        .function(primary.record.name.as_str())
        .and_then(|d| d.record.cluster_revision);
    let mut record = primary.record.clone();
    let bytes = crate::cluster::sync::shared_bytes(&record)?;
    let revision = node
        .cluster
        .put_record(&record.name, bytes, expected)
        .await
        .map_err(crate::cluster::sync::api_error)?;
    record.cluster_revision = Some(revision);
    gw.deployed(record)
}

/// `record` re-verified from its kept original against today's trust and clock, and rebuilt if
/// this engine did not compile it; its refusal otherwise. Call with the artifact GC lock held.
async fn verified(gw: &Arc<Gateway>, record: Record) -> Result<Record, ApiError> {
    if record.original.is_none() {
        // Kept before originals were: its recorded claims are all there is to check.
        gw.admission
            .verify_recorded(&record.claims, std::time::SystemTime::now())?;
        return Ok(record);
    }
    let gw = gw.clone();
    let (record, refused) =
        tokio::task::spawn_blocking(move || crate::restore::verify_and_build(&gw, record))
            .await
            .map_err(|e| ApiError::Internal {
                reason: format!("verifying a kept version failed: {e}"),
            })?;
    match refused {
        Some(cause) => Err(cause),
        None => Ok(record),
    }
}

/// One version as the admin API shows it.
pub fn describe(record: &Record) -> Value {
    json!({
        "version": record.version,
        "digest": record.digest,
        "size": record.size,
        "issuer": record.claims.iss,
        "deployed_at": record.deployed_at,
        "manifest": record.manifest,
        "claims": record.claims,
        "original": record.original,
    })
}

/// Weights as a JSON object from version (as text) to percent.
pub fn weights_json(weights: &Weights) -> Value {
    let map: BTreeMap<String, u8> = weights.iter().map(|(v, w)| (v.to_string(), w)).collect();
    json!(map)
}

/// Reads a small admin body.
async fn read(gw: &Gateway, req: Request<Incoming>) -> Result<bytes::Bytes, ApiError> {
    let (parts, body) = req.into_parts();
    crate::client_body::read(
        &parts,
        body,
        gw.body_limits(MAX_BODY, "the fixed limit of a rollback or traffic body"),
    )
    .await
}

/// Refuses `operation` in cluster mode, where it is not shared between nodes yet.
fn not_in_cluster(gw: &Gateway, operation: &'static str) -> Result<(), ApiError> {
    match gw.cluster {
        Some(_) => Err(ApiError::NotInCluster { operation }),
        None => Ok(()),
    }
}

fn not_found(name: &FunctionName) -> ApiError {
    ApiError::FunctionNotFound {
        name: name.as_str().to_owned(),
    }
}
