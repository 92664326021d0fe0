//! `/healthz` (the process answers), `/readyz` (it accepts work) and `/metrics` (Prometheus).

use crate::error::ApiError;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use http::StatusCode;
use serde_json::json;

/// Liveness: always 200 while the process serves HTTP.
pub fn healthz() -> GatewayResponse {
    json(StatusCode::OK, &json!({ "status": "ok" }))
}

/// Readiness: 200 once functions are restored, 503 while draining for shutdown.
pub fn readyz(gw: &Gateway) -> GatewayResponse {
    if gw.is_ready() {
        json(StatusCode::OK, &json!({ "status": "ready" }))
    } else {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &json!({ "status": "draining" }),
        )
    }
}

/// Prometheus text exposition of every metric.
pub fn metrics(gw: &Gateway) -> Result<GatewayResponse, ApiError> {
    let text = gw
        .metrics
        .render(&gw.catalog.snapshot(), &gw.pool)
        .map_err(|e| ApiError::Internal {
            reason: format!("encoding metrics: {e}"),
        })?;
    let mut response = crate::response::text(StatusCode::OK, text);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}
