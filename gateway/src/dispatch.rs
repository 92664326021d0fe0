//! The top of the request path, read as one stack: every request passes the same steps in this
//! order, and each step's refusal becomes its JSON error response here.
//!
//! 1. request id (kept from `X-Request-Id` or generated; echoed, and carried by every log line);
//! 2. head limits (`http.max_header_size`, `http.max_headers`), before anything reads the head;
//! 3. which endpoint the path names, and that endpoint's audience;
//! 4. the audience's credentials (admin, metrics; invocation checks the function's own tokens
//!    once it knows the function), before any body is read;
//! 5. the handler, where per-function concurrency, time and body limits apply (`wasmgate-pool`).
//!
//! Connection-level limits (max connections, header and idle timeouts, HTTP/2 streams) come
//! before all of this, in [`server`](crate::server). These are plain async steps rather than
//! tower layers: each is an early return that must drain the body it refuses (so the client sees
//! the answer, not a reset), and a boxed service per layer would add an allocation per request on
//! the hot path for no reuse; the order is this function's order.

use crate::admin;
use crate::async_calls;
use crate::health;
use crate::incoming::Incoming;
use crate::invoke;
use crate::publish;
use crate::request_head;
use crate::request_id;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::Request;
use std::convert::Infallible;
use std::sync::Arc;
use tracing::Instrument;
use wasmgate_pool::RequestId;

/// Serves any request; every failure becomes its JSON error response here.
pub async fn dispatch(
    gw: Arc<Gateway>,
    mut req: Request<Incoming>,
) -> Result<GatewayResponse, Infallible> {
    // 1. Request id, first, so even a refusal carries it.
    let id = request_id::of(&req);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    crate::telemetry::continue_trace(&span, req.headers());
    let mut response = route(gw, req, &id).instrument(span).await;
    if let Some(value) = request_id::header_value(&id) {
        response
            .headers_mut()
            .insert(request_id::X_REQUEST_ID.clone(), value);
    }
    Ok(response)
}

/// The endpoints, by path; each belongs to one audience (see [`crate::auth`]).
enum Endpoint {
    /// `/fn/*` and manifest routes: invokers (public unless the function lists tokens).
    Invoke,
    /// `/functions*`: admin.
    Admin,
    /// `/publish/*`: admin.
    Publish,
    /// `/async/*`: invokers.
    Async,
    /// `/calls/*`: the call's own caller, or admin.
    Calls,
    /// `/cluster`: admin.
    Cluster,
    /// `/metrics`: operators.
    Metrics,
    /// `/healthz`, `/readyz`: anyone (load balancers and orchestrators probe them).
    Health,
}

impl Endpoint {
    fn of(path: &str) -> Endpoint {
        if path.starts_with(invoke::FN_PREFIX) {
            // Invocation first: it is the hot path.
            Endpoint::Invoke
        } else if path == admin::PREFIX || path.starts_with("/functions/") {
            Endpoint::Admin
        } else if path.starts_with(async_calls::ASYNC_PREFIX) {
            Endpoint::Async
        } else if path.starts_with(async_calls::CALLS_PREFIX) {
            Endpoint::Calls
        } else if path.starts_with(publish::PREFIX) {
            Endpoint::Publish
        } else if path == crate::cluster::status::PATH {
            Endpoint::Cluster
        } else if path == "/metrics" {
            Endpoint::Metrics
        } else if path == "/healthz" || path == "/readyz" {
            Endpoint::Health
        } else {
            Endpoint::Invoke
        }
    }
}

async fn route(gw: Arc<Gateway>, req: Request<Incoming>, id: &str) -> GatewayResponse {
    // 2. Head limits.
    if let Err(refused) = request_head::check(&req, &gw.settings.http) {
        return refused.into_response_for(Some(id));
    }
    // 3-5. Endpoint, credentials, handler.
    let result = match Endpoint::of(req.uri().path()) {
        Endpoint::Invoke => invoke::invoke(&gw, req).await,
        Endpoint::Admin => match admin::authorize(&gw, req).await {
            Ok(req) => admin::handle(&gw, req).await,
            Err(refused) => Err(refused),
        },
        Endpoint::Publish => match admin::authorize(&gw, req).await {
            Ok(req) => publish::publish(&gw, req).await,
            Err(refused) => Err(refused),
        },
        Endpoint::Cluster => match admin::authorize(&gw, req).await {
            Ok(req) => crate::cluster::status::handle(&gw, &req),
            Err(refused) => Err(refused),
        },
        Endpoint::Async => async_calls::accept(&gw, req).await,
        Endpoint::Calls => async_calls::get(&gw, &req).await,
        Endpoint::Metrics => gw.access.metrics(&req).and_then(|()| health::metrics(&gw)),
        Endpoint::Health if req.uri().path() == "/healthz" => Ok(health::healthz()),
        Endpoint::Health => Ok(health::readyz(&gw)),
    };
    // A host failure's body names the request id, which finds its detail in the log.
    result.unwrap_or_else(|e| e.into_response_for(Some(id)))
}
