//! Invocation: find the function a request is for, hand the guest its path, run it.

use crate::admission::Source;
use crate::catalog::Deployed;
use crate::client_body;
use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::request_body::CappedBody;
use crate::response::{GatewayResponse, from_guest};
use crate::state::Gateway;
use http::uri::{PathAndQuery, Uri};
use http::{HeaderValue, Request, header};
use http_body_util::Either;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Path prefix of the built-in per-function routes.
pub const FN_PREFIX: &str = "/fn/";

/// Runs the function `req` is addressed to: by `/fn/{name}/...`, else by a manifest route.
pub async fn invoke(gw: &Gateway, req: Request<Incoming>) -> Result<GatewayResponse, ApiError> {
    let snapshot = gw.catalog.snapshot();
    let path = req.uri().path();
    let (deployed, guest_path): (&Arc<Deployed>, Option<String>) =
        if let Some(rest) = path.strip_prefix(FN_PREFIX) {
            let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let Some(deployed) = snapshot.function(name) else {
                return Err(unrouted(
                    gw,
                    ApiError::FunctionNotFound {
                        name: name.to_owned(),
                    },
                ));
            };
            let tail = if tail.is_empty() { "/" } else { tail };
            (deployed, Some(tail.to_owned()))
        } else {
            let Some(deployed) = snapshot.route(path) else {
                return Err(unrouted(
                    gw,
                    ApiError::NotFound {
                        path: path.to_owned(),
                    },
                ));
            };
            (deployed, None)
        };
    let deployed = deployed.clone();
    drop(snapshot);
    let started = Instant::now();
    let mut result = run(gw, &deployed, req, guest_path).await;
    let took = started.elapsed();
    match &mut result {
        // A streamed body is counted when it ends: one that fails after its head was sent
        // counts as the error it was, not as the status the head carried.
        Ok(response) => {
            let status = response.status();
            if let Either::Left(body) = response.body_mut() {
                let metrics = gw.metrics.clone();
                let deployed = deployed.clone();
                body.on_end(Box::new(move |failure| {
                    let status = failure.map_or(status, |e| ApiError::Pool(e.clone()).classify().0);
                    let name = &deployed.record.name;
                    deployed.metrics.observe(&metrics, name, status, took);
                }));
            } else {
                observe(gw, &deployed, status, took);
            }
        }
        Err(e) => observe(gw, &deployed, e.classify().0, took),
    }
    result
}

/// Counts one call of `deployed` answered with `status`, its head after `took`.
fn observe(gw: &Gateway, deployed: &Deployed, status: http::StatusCode, took: Duration) {
    deployed
        .metrics
        .observe(&gw.metrics, &deployed.record.name, status, took);
}

/// Admission, then the guest.
async fn run(
    gw: &Gateway,
    deployed: &Deployed,
    req: Request<Incoming>,
    guest_path: Option<String>,
) -> Result<GatewayResponse, ApiError> {
    // The caller's token before anything else: an unauthenticated caller learns nothing more.
    if let Err(refused) = gw
        .access
        .invoke(&deployed.record.manifest.http.invoke_token_sha256, &req)
    {
        client_body::discard(req).await;
        return Err(refused);
    }
    let source = Source::Http {
        method: req.method().as_str(),
        path: req.uri().path(),
    };
    gw.admission.may_execute(deployed, source).await?;
    let limit = gw.settings.http.max_request_body.bytes();
    // Before anything polls the body: polling it would send `100 Continue`.
    if client_body::declared_length(req.headers()).is_some_and(|length| length > limit) {
        client_body::discard(req).await;
        return Err(ApiError::PayloadTooLarge {
            limit,
            setting: "http.max_request_body",
        });
    }
    let req = guest_request(req, guest_path)?.map(|body| CappedBody::new(body, limit));
    let response = deployed.function.call(req).await?;
    Ok(from_guest(response))
}

/// Counts a request no function matched (by status only: its path never becomes a label).
fn unrouted(gw: &Gateway, e: ApiError) -> ApiError {
    gw.metrics
        .unrouted
        .with_label_values(&[e.classify().0.as_str()])
        .inc();
    e
}

/// Rewrites the request as the guest should see it: the path after the prefix, and an authority.
fn guest_request(
    mut req: Request<Incoming>,
    guest_path: Option<String>,
) -> Result<Request<Incoming>, ApiError> {
    if let Some(path) = guest_path {
        let path_and_query = match req.uri().query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        let path_and_query =
            PathAndQuery::try_from(path_and_query).map_err(|e| ApiError::BadRequest {
                reason: format!("invalid path: {e}"),
            })?;
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(path_and_query);
        *req.uri_mut() = Uri::from_parts(parts).map_err(|e| ApiError::BadRequest {
            reason: format!("invalid uri: {e}"),
        })?;
    }
    // wasi:http requires an authority; HTTP/1.0 clients may send neither Host nor an absolute URI.
    if req.uri().authority().is_none() && !req.headers().contains_key(header::HOST) {
        req.headers_mut()
            .insert(header::HOST, HeaderValue::from_static("localhost"));
    }
    Ok(req)
}
