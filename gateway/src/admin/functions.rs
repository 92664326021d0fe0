//! `GET /functions`, `GET /functions/{name}`, `DELETE /functions/{name}`.

use super::deploy::{release, retire};
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::response::{GatewayResponse, empty, json};
use crate::state::Gateway;
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::SystemTime;
use wasmgate_config::FunctionName;

/// Lists every deployed function, by name.
pub fn list(gw: &Gateway) -> GatewayResponse {
    let snapshot = gw.catalog.snapshot();
    let functions: Vec<Value> = snapshot.sorted().into_iter().map(summary).collect();
    json(StatusCode::OK, &json!({ "functions": functions }))
}

/// One function in detail, with its manifest, owner, signed original, the precompiled artifact
/// this node serves it from (`artifact`: `{"digest", "size", "adopted_from"}`, the last the node
/// key of a cluster peer whose signed artifact this node loaded, else `null`), the key-value bytes its
/// own buckets use (`kv_bytes`, counted against `quotas.max_kv_bytes`; `null` when the store
/// cannot be asked), and its live versions (`live`: `[{"version", "weight", "digest",
/// "deployed_at", "requests"}]`, `version` being the primary one, which the other fields
/// describe), and its last canary on this node (`canary`, `null` if none: see
/// [`crate::canary`]).
pub async fn get(gw: &Gateway, name: &str) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let snapshot = gw.catalog.snapshot();
    let deployed = snapshot
        .function(name.as_str())
        .ok_or_else(|| not_found(&name))?;
    let mut body = summary(deployed);
    body["manifest"] =
        serde_json::to_value(&deployed.record.manifest).map_err(|e| ApiError::Internal {
            reason: format!("manifest not serialisable: {e}"),
        })?;
    body["compile_ms"] = json!(deployed.record.compile_ms);
    body["artifact"] = json!({
        "digest": deployed.record.artifact,
        "size": deployed.record.artifact_size,
        "adopted_from": deployed.record.adopted_from,
    });
    body["owner"] = json!(gw.registry.owner(name.as_str())?);
    body["original"] = match &deployed.record.original {
        Some(digest) => json!({ "stored": true, "digest": digest }),
        None => json!({
            "stored": false,
            "message": "deployed before wasmgate kept signed originals: a restart cannot re-verify its signature or rebuild it after an upgrade; deploy it again to keep one",
        }),
    };
    body["kv_bytes"] = json!(kv_bytes(gw, deployed).await);
    body["canary"] = json!(gw.canaries.status(name.as_str()));
    let weights = gw.registry.live(name.as_str())?.map(|l| l.weights);
    let weight = |v: u64| {
        weights
            .as_ref()
            .and_then(|w| w.iter().find(|(k, _)| *k == v).map(|(_, w)| w))
    };
    body["live"] = snapshot
        .live(name.as_str())
        .iter()
        .map(|d| {
            json!({
                "version": d.record.version,
                "weight": weight(d.record.version),
                "digest": d.record.digest,
                "issuer": d.record.claims.iss,
                "deployed_at": d.record.deployed_at,
                "requests": d.requests.load(std::sync::atomic::Ordering::Relaxed),
            })
        })
        .collect();
    body["claims"] =
        serde_json::to_value(&deployed.record.claims).map_err(|e| ApiError::Internal {
            reason: format!("claims not serialisable: {e}"),
        })?;
    Ok(json(StatusCode::OK, &body))
}

/// Removes a function: durable first, then unpublished, then its code and artifact released. The
/// name's owner is released with it. Its key-value data is kept for the same owner's next deploy
/// of the name, unless `purge`: then every private bucket of it is removed before the answer.
pub async fn delete(gw: &Gateway, name: &str, purge: bool) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let applying = match &gw.cluster {
        Some(node) => Some(node.applying.lock().await),
        None => None,
    };
    let change = gw.catalog.lock().await;
    let Some(current) = gw.catalog.snapshot().function(name.as_str()).cloned() else {
        return Err(not_found(&name));
    };
    // Purged first: a purge that fails leaves the function deployed and the request can be repeated.
    let purged = if purge {
        let prefix = current.record.kv_scope()?.private_prefix();
        let removed = gw.kv.purge(&prefix).await.map_err(|e| ApiError::Internal {
            reason: format!("purging the key-value data of {name}: {e}"),
        })?;
        Some(removed)
    } else {
        None
    };
    // Shared first: a delete the cluster did not take changes nothing here either.
    if let Some(node) = &gw.cluster {
        node.cluster
            .delete_record(name.as_str())
            .await
            .map_err(crate::cluster::sync::api_error)?;
    }
    let removed = gw.registry.remove(name.as_str())?;
    let old = gw.catalog.remove(&change, name.as_str());
    drop(change);
    drop(applying);
    for old in &old {
        retire(gw, old).await;
    }
    if !old.is_empty() {
        // After its tasks stopped, so none claims a slot again; a failure only leaves a slot a
        // later function of this name compares against (its pattern must match to count).
        // Every index a schedule may have had, also under a version before this one.
        let schedules = wasmgate_config::MAX_SCHEDULES;
        if let Err(e) = gw.slots.forget(name.as_str(), schedules).await {
            tracing::warn!(function = %name, error = %e, "could not forget the schedule slots");
        }
    }
    release(gw, &removed).await;
    gw.forget_metrics(name.as_str());
    gw.pool.forget_guest_log(name.as_str());
    tracing::info!(function = %name, purged_keys = ?purged, "deleted");
    Ok(match purged {
        None => empty(StatusCode::NO_CONTENT),
        Some(keys) => json(
            StatusCode::OK,
            &json!({ "name": name.as_str(), "purged_keys": keys }),
        ),
    })
}

fn summary(deployed: &Arc<Deployed>) -> Value {
    let record = &deployed.record;
    let stats = deployed.function.stats();
    let mut summary = json!({
        "name": record.name,
        "version": record.version,
        "digest": record.digest,
        "size": record.size,
        "status": "serving",
        "state": if stats.warm { "warm" } else { "cold" },
        "instances": stats.instances,
        "deployed_at": record.deployed_at,
        "issuer": record.claims.iss,
        "routes": deployed.routes(),
        "cost": cost(&stats),
    });
    let expired = crate::admission::not_expired(&record.claims, SystemTime::now()).err();
    let stopped = match (&deployed.down, &expired) {
        (Some(cause), _) => Some(("down", cause.as_ref())),
        (None, Some(cause)) => Some(("expired", cause)),
        (None, None) => None,
    };
    if let Some((status, cause)) = stopped {
        summary["status"] = json!(status);
        summary["reason"] = json!({
            "code": cause.classify().1,
            "message": cause.public_message(None),
        });
    }
    summary
}

/// What this version has cost the node since it was deployed or the node started (the
/// `wasmgate_memory_seconds_total`, `wasmgate_memory_busy_seconds_total`,
/// `wasmgate_guest_cpu_seconds_total` and `wasmgate_cold_start*` series, per version).
fn cost(stats: &wasmgate_pool::FunctionStats) -> Value {
    let cost = &stats.cost;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    json!({
        "bytes_held": cost.bytes_held,
        "memory_byte_seconds": cost.memory_byte_seconds,
        "busy_byte_seconds": cost.busy_byte_seconds,
        "guest_cpu_seconds": cost.guest_cpu.as_secs_f64(),
        "cold_starts": stats.cold_starts,
        "cold_start_seconds": stats.cold_start_time.as_secs_f64(),
        "instance_peak_bytes": cost.instance_peak_bytes,
        "last_cold_start_ms": cost.last_cold_start.map(|p| json!({
            "load": ms(p.load),
            "link": ms(p.link),
            "instantiate": ms(p.instantiate),
            "first_response": ms(p.first_response),
        })),
    })
}

/// Bytes the function's own key-value buckets use, or `None` (logged) when the store fails.
async fn kv_bytes(gw: &Gateway, deployed: &Deployed) -> Option<u64> {
    let namespace = deployed
        .record
        .kv_scope()
        .ok()
        .and_then(|scope| wasmgate_capabilities::keyvalue::private_namespace(&scope).ok())?;
    match gw.kv.usage(&namespace).await {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            tracing::warn!(function = %deployed.record.name, error = %e, "cannot read key-value usage");
            None
        }
    }
}

fn not_found(name: &FunctionName) -> ApiError {
    ApiError::FunctionNotFound {
        name: name.as_str().to_owned(),
    }
}
