//! The top of the request path: which part of the gateway serves a request.

use crate::admin;
use crate::error::ApiError;
use crate::health;
use crate::invoke;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::Request;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;

/// Serves any request; every failure becomes its JSON error response here.
pub async fn dispatch(
    gw: Arc<Gateway>,
    req: Request<Incoming>,
) -> Result<GatewayResponse, Infallible> {
    let path = req.uri().path();
    let result = if path.starts_with(invoke::FN_PREFIX) {
        // Invocation first: it is the hot path.
        invoke::invoke(&gw, req).await
    } else if path == admin::PREFIX || path.starts_with("/functions/") {
        admin::handle(&gw, req).await
    } else if path == "/healthz" {
        Ok(health::healthz())
    } else if path == "/readyz" {
        Ok(health::readyz(&gw))
    } else {
        invoke::invoke(&gw, req).await
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
}
