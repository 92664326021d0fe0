//! Invocation: find the function a request is for, hand the guest its path, run it.

use crate::admission::Source;
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::response::{GatewayResponse, from_guest};
use crate::state::Gateway;
use http::uri::{PathAndQuery, Uri};
use http::{HeaderValue, Request, header};
use hyper::body::Incoming;
use std::sync::Arc;

/// Path prefix of the built-in per-function routes.
pub const FN_PREFIX: &str = "/fn/";

/// Runs the function `req` is addressed to: by `/fn/{name}/...`, else by a manifest route.
pub async fn invoke(gw: &Gateway, req: Request<Incoming>) -> Result<GatewayResponse, ApiError> {
    let snapshot = gw.catalog.snapshot();
    let path = req.uri().path();
    let (deployed, guest_path): (&Arc<Deployed>, Option<String>) =
        if let Some(rest) = path.strip_prefix(FN_PREFIX) {
            let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let deployed = snapshot
                .function(name)
                .ok_or_else(|| ApiError::FunctionNotFound {
                    name: name.to_owned(),
                })?;
            let tail = if tail.is_empty() { "/" } else { tail };
            (deployed, Some(tail.to_owned()))
        } else {
            let deployed = snapshot.route(path).ok_or_else(|| ApiError::NotFound {
                path: path.to_owned(),
            })?;
            (deployed, None)
        };
    let deployed = deployed.clone();
    drop(snapshot);
    let source = Source::Http {
        method: req.method().as_str(),
        path: req.uri().path(),
    };
    gw.admission.may_execute(&deployed, source).await?;
    let function = deployed.function.clone();
    let req = guest_request(req, guest_path)?;
    let response = function.call(req).await?;
    Ok(from_guest(response))
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
