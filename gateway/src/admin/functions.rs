//! `GET /functions`, `GET /functions/{name}`, `DELETE /functions/{name}`.

use super::deploy::retire;
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::response::{GatewayResponse, empty, json};
use crate::state::Gateway;
use http::StatusCode;
use serde_json::{Value, json};
use std::sync::Arc;
use wasmgate_config::FunctionName;

/// Lists every deployed function, by name.
pub fn list(gw: &Gateway) -> GatewayResponse {
    let snapshot = gw.catalog.snapshot();
    let functions: Vec<Value> = snapshot.sorted().into_iter().map(summary).collect();
    json(StatusCode::OK, &json!({ "functions": functions }))
}

/// One function in detail, with its manifest and the key-value bytes its own buckets use
/// (`kv_bytes`, counted against `quotas.max_kv_bytes`; `null` when the store cannot be asked).
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
    body["kv_bytes"] = json!(kv_bytes(gw, deployed).await);
    body["claims"] =
        serde_json::to_value(&deployed.record.claims).map_err(|e| ApiError::Internal {
            reason: format!("claims not serialisable: {e}"),
        })?;
    Ok(json(StatusCode::OK, &body))
}

/// Removes a function: durable first, then unpublished, then its code and artifact released.
pub async fn delete(gw: &Gateway, name: &str) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let change = gw.catalog.lock().await;
    if gw.catalog.snapshot().function(name.as_str()).is_none() {
        return Err(not_found(&name));
    }
    gw.registry.remove(name.as_str())?;
    let old = gw.catalog.remove(&change, name.as_str());
    drop(change);
    if let Some(old) = old {
        retire(gw, &old).await;
    }
    gw.forget_metrics(name.as_str());
    tracing::info!(function = %name, "deleted");
    Ok(empty(StatusCode::NO_CONTENT))
}

fn summary(deployed: &Arc<Deployed>) -> Value {
    let record = &deployed.record;
    let stats = deployed.function.stats();
    json!({
        "name": record.name,
        "digest": record.digest,
        "size": record.size,
        "state": if stats.warm { "warm" } else { "cold" },
        "instances": stats.instances,
        "deployed_at": record.deployed_at,
        "routes": deployed.routes(),
    })
}

/// Bytes the function's own key-value buckets use, or `None` (logged) when the store fails.
async fn kv_bytes(gw: &Gateway, deployed: &Deployed) -> Option<u64> {
    let namespace = crate::state::kv_scope(&deployed.record)
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
