//! Invocation: find the function a request is for (and which of its live versions: the only
//! one, one chosen by weight or sticky key, or the one a `/fn/NAME@K` tag names), hand the
//! guest its path, run it.

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
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Path prefix of the built-in per-function routes.
pub const FN_PREFIX: &str = "/fn/";

/// Runs the function `req` is addressed to: by `/fn/{name}/...`, else by a manifest route. In
/// cluster mode a call whose function has its home on another node is forwarded there (see
/// [`crate::cluster::forward`]), and a `/fn/` name this node has not seen yet is read through
/// from the shared registry before the answer is 404.
pub async fn invoke(
    gw: &Arc<Gateway>,
    mut req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let forwarded_in = match &gw.cluster {
        Some(node) => match crate::cluster::forwarded_in(node, req.headers_mut()) {
            Ok(forwarded) => forwarded,
            Err(refused) => return Ok(crate::cluster::refusal(refused, "cluster_auth")),
        },
        None => {
            req.headers_mut().remove(crate::cluster::CLUSTER_TOKEN);
            false
        }
    };
    let (deployed, guest_path) = match find(gw, &req) {
        Ok(found) => found,
        Err(missing) => match (&gw.cluster, fn_name(req.uri().path())) {
            (Some(node), Some(name))
                if crate::cluster::sync::read_through(gw, node, name).await =>
            {
                find(gw, &req).map_err(|e| unrouted(gw, e))?
            }
            _ => return Err(unrouted(gw, missing)),
        },
    };
    let mut running = None;
    if let Some(node) = &gw.cluster {
        if forwarded_in && let Err(down) = deployed.serving() {
            return Ok(crate::cluster::refusal(down, "down"));
        }
        let path = if forwarded_in {
            crate::cluster::CallPath::ForwardedIn
        } else {
            match node.home_elsewhere(&deployed.record.name) {
                Ok(None) => crate::cluster::CallPath::Home,
                Err(path) => path,
                Ok(Some(home)) => {
                    let id = req
                        .extensions()
                        .get::<wasmgate_pool::RequestId>()
                        .map(|r| r.0.to_string())
                        .unwrap_or_default();
                    let timeout = gw.settings.http.body_read_timeout.get();
                    match crate::cluster::forward::forward(node, &home, req, timeout, &id).await? {
                        crate::cluster::forward::Forwarded::Answered(response) => {
                            node.count(crate::cluster::CallPath::ForwardedOut);
                            return Ok(response);
                        }
                        crate::cluster::forward::Forwarded::Local(back, path) => {
                            req = back;
                            path
                        }
                    }
                }
            }
        };
        node.count(path);
        running = Some(node.running());
    }
    deployed.requests.fetch_add(1, Ordering::Relaxed);
    let started = Instant::now();
    let mut result = run(gw, &deployed, req, guest_path).await;
    let took = started.elapsed();
    drop(running);
    if let (Some(node), Ok(response)) = (&gw.cluster, &mut result)
        && let Ok(id) = HeaderValue::from_str(&node.id)
    {
        response.headers_mut().insert(crate::cluster::SERVED_BY, id);
    }
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
                    deployed.stats.record(status, took);
                }));
            } else {
                observe(gw, &deployed, status, took);
            }
        }
        Err(e) => observe(gw, &deployed, e.classify().0, took),
    }
    result
}

/// The function version `req` is addressed to, and the path its guest sees (`None`: the
/// request's own).
fn find(
    gw: &Gateway,
    req: &Request<Incoming>,
) -> Result<(Arc<Deployed>, Option<String>), ApiError> {
    let snapshot = gw.catalog.snapshot();
    let path = req.uri().path();
    if let Some(rest) = path.strip_prefix(FN_PREFIX) {
        let (segment, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let tail = if tail.is_empty() { "/" } else { tail };
        let (name, tag) = split_tag(segment);
        let primary = snapshot
            .function(name)
            .ok_or_else(|| ApiError::FunctionNotFound {
                name: name.to_owned(),
            })?;
        let deployed = match tag {
            None => snapshot.choose(primary, req.headers()),
            Some(tag) => tagged(&snapshot, name, tag)?,
        };
        Ok((deployed.clone(), Some(tail.to_owned())))
    } else {
        let primary = snapshot.route(path).ok_or_else(|| ApiError::NotFound {
            path: path.to_owned(),
        })?;
        Ok((snapshot.choose(primary, req.headers()).clone(), None))
    }
}

/// `NAME@K` split into the name and the tag `K` (`None` without `@`).
fn split_tag(segment: &str) -> (&str, Option<&str>) {
    match segment.split_once('@') {
        Some((name, tag)) => (name, Some(tag)),
        None => (segment, None),
    }
}

/// Live version `tag` of `name`: `400` for a tag that is not a version number, `404
/// version_not_found` for a version that is not live.
fn tagged<'a>(
    snapshot: &'a crate::catalog::Snapshot,
    name: &str,
    tag: &str,
) -> Result<&'a Arc<Deployed>, ApiError> {
    let version: u64 = tag.parse().map_err(|_| ApiError::BadRequest {
        reason: format!(
            "version tag {:?} after `@` is not a version number: call /fn/{name}@K with K from GET /functions/{name}/versions, or /fn/{name} for the live traffic split",
            tag.escape_debug().to_string()
        ),
    })?;
    snapshot
        .tagged(name, version)
        .ok_or_else(|| ApiError::VersionNotFound {
            name: name.to_owned(),
            version,
            kept: Vec::new(),
        })
}

/// The function name a `/fn/NAME/...` (or `/fn/NAME@K/...`) path names.
fn fn_name(path: &str) -> Option<&str> {
    let rest = path.strip_prefix(FN_PREFIX)?;
    Some(split_tag(&rest[..rest.find('/').unwrap_or(rest.len())]).0)
}

/// Counts one call of `deployed` answered with `status`, its head after `took`.
fn observe(gw: &Gateway, deployed: &Deployed, status: http::StatusCode, took: Duration) {
    deployed
        .metrics
        .observe(&gw.metrics, &deployed.record.name, status, took);
    deployed.stats.record(status, took);
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

/// Why a request the host made itself got no answer ([`host_request`]).
pub(crate) enum HostRequestFailed {
    /// The function's execute policy refused it before the guest ran.
    Refused(ApiError),
    /// The call failed (trap, timeout, limits...).
    Failed(ApiError),
}

/// A request the host itself makes to `deployed` (a `[health]` check, a schedule's fire): the
/// execute policy for its method and path first, then the guest's answer read to the end, so the
/// guest runs to its finish and the body counts against its response limit. The status, and the
/// body or why it broke off.
pub(crate) async fn host_request<B>(
    gw: &Gateway,
    deployed: &Deployed,
    request: Request<B>,
) -> Result<(http::StatusCode, Result<bytes::Bytes, String>), HostRequestFailed>
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    let source = Source::Http {
        method: request.method().as_str(),
        path: request
            .uri()
            .path_and_query()
            .map_or("/", PathAndQuery::as_str),
    };
    gw.admission
        .may_execute(deployed, source)
        .await
        .map_err(HostRequestFailed::Refused)?;
    let response = deployed
        .function
        .call(request)
        .await
        .map_err(|e| HostRequestFailed::Failed(ApiError::from(e)))?;
    let status = response.status();
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .map(http_body_util::Collected::to_bytes)
        .map_err(|e| e.to_string());
    Ok((status, body))
}
