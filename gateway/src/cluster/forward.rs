//! Forwarding a call to its home node: one hop at most, over HTTP/1.1 keep-alive connections to
//! the peer's advertised URL, authenticated by the cluster token.
//!
//! The request is sent as the client sent it (method, path, query, headers but hop-by-hop ones,
//! body), plus [`FORWARDED_BY`] and [`CLUSTER_TOKEN`]; the home serves it without forwarding it
//! again and names itself in [`SERVED_BY`](super::SERVED_BY). The response streams back as the
//! home sends it.
//!
//! A request body is read first, up to [`REPLAY_LIMIT`], so the call can still be served here
//! when the home does not answer: a connection refused, or an idempotent request (RFC 9110
//! §9.2.2) whose connection failed, is served locally and the peer skipped for a few seconds. A
//! body larger than that, or of unknown length, is served where it landed: it could not be
//! replayed, and such calls are rare enough that their affinity matters less than never losing
//! one.

use super::{CLUSTER_TOKEN, CallPath, ClusterNode, FORWARDED_BY};
use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::response::{GatewayResponse, RelayError};
use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Version};
use http_body::Body as _;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::time::Duration;
use wasmgate_cluster::NodeEntry;

/// Largest request body a node reads before forwarding, so it can serve the call itself when
/// the home fails: 64 KiB, the size the pool already holds a response body to before answering
/// (`HELD_BODY`); most function calls are far smaller.
pub const REPLAY_LIMIT: u64 = 64 * 1024;

/// How long connecting to a peer may take before it counts as unreachable: peers share a
/// network, where a connect takes well under a millisecond.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long an idle connection to a peer is kept for the next forwarded call.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Headers that belong to one connection (RFC 9110 §7.6.1), never forwarded either way.
const HOP_BY_HOP: [HeaderName; 6] = [
    header::CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
];

/// The keep-alive HTTP client to peers.
pub struct PeerClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl PeerClient {
    /// A client with short connect and idle timeouts.
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector);
        PeerClient { client }
    }
}

impl Default for PeerClient {
    fn default() -> Self {
        Self::new()
    }
}

/// What became of a call this node tried to forward.
pub enum Forwarded {
    /// The home answered (whatever its status): relay this.
    Answered(GatewayResponse),
    /// Serve it here: the home did not answer, or the body cannot be replayed; the request with
    /// its body intact, and the path to count it under.
    Local(Request<Incoming>, CallPath),
}

/// Whether the request's body can be read whole and replayed: known to be empty, or declared
/// at most [`REPLAY_LIMIT`] bytes.
fn replayable(req: &Request<Incoming>) -> bool {
    if req.body().is_end_stream() {
        return true;
    }
    req.body()
        .size_hint()
        .exact()
        .is_some_and(|length| length <= REPLAY_LIMIT)
}

/// Sends `req` to `home`, or hands it back to be served here (see the module docs).
pub async fn forward(
    node: &ClusterNode,
    home: &NodeEntry,
    req: Request<Incoming>,
    body_timeout: Duration,
    request_id: &str,
) -> Result<Forwarded, ApiError> {
    if !replayable(&req) {
        return Ok(Forwarded::Local(req, CallPath::Local));
    }
    let (parts, body) = req.into_parts();
    let collected = tokio::time::timeout(
        body_timeout,
        Limited::new(body, REPLAY_LIMIT as usize).collect(),
    )
    .await
    .map_err(|_| ApiError::BodyTimeout {
        seconds: body_timeout.as_secs_f64(),
    })?
    .map_err(|e| ApiError::BadRequest {
        reason: format!("the request body could not be read: {e}"),
    })?;
    let bytes = collected.to_bytes();
    let outgoing = outgoing(node, home, &parts, bytes.clone(), request_id)?;
    let idempotent = parts.method.is_idempotent();
    match node.client.client.request(outgoing).await {
        Ok(response) if response.headers().contains_key(super::REFUSED) => {
            let reason = response.headers().get(super::REFUSED).cloned();
            // The home cannot serve it (the function is down there, or the peer does not share
            // this node's cluster token): served here, the peer skipped for a few seconds.
            tracing::warn!(peer = %home.id, reason = ?reason, "the function's home refused the call: serving it here");
            node.unreachable(&home.id);
            let req = Request::from_parts(parts, Incoming::Buffered(Some(bytes)));
            Ok(Forwarded::Local(req, CallPath::Fallback))
        }
        Ok(response) => Ok(Forwarded::Answered(relay(response))),
        Err(e) if e.is_connect() || idempotent => {
            tracing::info!(peer = %home.id, error = %e, connect = e.is_connect(), "the function's home did not answer: serving the call here");
            node.unreachable(&home.id);
            let req = Request::from_parts(parts, Incoming::Buffered(Some(bytes)));
            Ok(Forwarded::Local(req, CallPath::Fallback))
        }
        Err(e) => {
            node.unreachable(&home.id);
            Err(ApiError::ForwardFailed {
                node: home.id.clone(),
                reason: e.to_string(),
            })
        }
    }
}

/// The request as the home receives it.
fn outgoing(
    node: &ClusterNode,
    home: &NodeEntry,
    parts: &http::request::Parts,
    body: Bytes,
    request_id: &str,
) -> Result<Request<Full<Bytes>>, ApiError> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri: http::Uri =
        format!("{}{path}", home.advertise)
            .parse()
            .map_err(|e| ApiError::Internal {
                reason: format!("peer {} advertises an unusable URL: {e}", home.id),
            })?;
    let mut out = Request::new(Full::new(body));
    *out.method_mut() = parts.method.clone();
    *out.uri_mut() = uri;
    *out.version_mut() = Version::HTTP_11;
    let headers = out.headers_mut();
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(name) && name != header::CONTENT_LENGTH {
            headers.append(name.clone(), value.clone());
        }
    }
    // An HTTP/2 client names the authority in the request line, not in `Host`.
    if !headers.contains_key(header::HOST)
        && let Some(authority) = parts.uri.authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        headers.insert(header::HOST, host);
    }
    let invalid = |what: &str| ApiError::Internal {
        reason: format!("{what} is not a header value"),
    };
    headers.insert(
        HeaderName::from_static(FORWARDED_BY),
        HeaderValue::from_str(&node.id).map_err(|_| invalid("the node id"))?,
    );
    headers.insert(
        HeaderName::from_static(CLUSTER_TOKEN),
        HeaderValue::from_str(node.token()).map_err(|_| invalid("the cluster token"))?,
    );
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert(crate::request_id::X_REQUEST_ID.clone(), id);
    }
    Ok(out)
}

/// The home's response as this node sends it on: streamed, without hop-by-hop headers.
fn relay(response: http::Response<hyper::body::Incoming>) -> GatewayResponse {
    let (mut parts, body) = response.into_parts();
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = body.map_err(RelayError).boxed();
    http::Response::from_parts(parts, Either::Right(body))
}
