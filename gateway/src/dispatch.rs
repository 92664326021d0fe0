//! The top of the request path: which part of the gateway serves a request.

use crate::admin;
use crate::async_calls;
use crate::error::ApiError;
use crate::health;
use crate::invoke;
use crate::publish;
use crate::request_head;
use crate::request_id;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::Request;
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use tracing::Instrument;
use wasmgate_pool::RequestId;

/// Serves any request; every failure becomes its JSON error response here. Each request gets an
/// id (kept from `X-Request-Id` or generated), echoed in the response and carried by its logs.
pub async fn dispatch(
    gw: Arc<Gateway>,
    mut req: Request<Incoming>,
) -> Result<GatewayResponse, Infallible> {
    let id = request_id::of(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut response = route(gw, req).instrument(span).await;
    if let Some(value) = request_id::header_value(&id) {
        response
            .headers_mut()
            .insert(request_id::X_REQUEST_ID.clone(), value);
    }
    Ok(response)
}

async fn route(gw: Arc<Gateway>, req: Request<Incoming>) -> GatewayResponse {
    if let Err(refused) = request_head::check(&req, &gw.settings.http) {
        return refused.into_response();
    }
    let path = req.uri().path();
    let result = if path.starts_with(invoke::FN_PREFIX) {
        // Invocation first: it is the hot path.
        invoke::invoke(&gw, req).await
    } else if path == admin::PREFIX || path.starts_with("/functions/") {
        admin::handle(&gw, req).await
    } else if path.starts_with(async_calls::ASYNC_PREFIX) {
        async_calls::accept(&gw, req).await
    } else if path.starts_with(async_calls::CALLS_PREFIX) {
        async_calls::get(&gw, &req)
    } else if path.starts_with(publish::PREFIX) {
        match admin::authorize(&gw, req).await {
            Ok(req) => publish::publish(&gw, req).await,
            Err(refused) => Err(refused),
        }
    } else if path == "/healthz" {
        Ok(health::healthz())
    } else if path == "/readyz" {
        Ok(health::readyz(&gw))
    } else if path == "/metrics" {
        gw.access.metrics(&req).and_then(|()| health::metrics(&gw))
    } else {
        invoke::invoke(&gw, req).await
    };
    result.unwrap_or_else(ApiError::into_response)
}
