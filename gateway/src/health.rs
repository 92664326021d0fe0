//! `/healthz` (the process answers) and `/readyz` (it accepts work).

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
