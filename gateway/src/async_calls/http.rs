//! `POST /async/{name}/{*path}` and `GET /calls/{id}`.

use super::record::{CallMeta, CallRecord, CallState};
use super::token;
use super::worker::{now, now_micros};
use crate::client_body;
use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Request, StatusCode, header};
use serde_json::{Value, json};
use std::sync::Arc;

/// Path prefix of async invocation.
pub const ASYNC_PREFIX: &str = "/async/";
/// Path prefix of call results.
pub const CALLS_PREFIX: &str = "/calls/";
/// Header naming where to POST the result.
pub const CALLBACK_HEADER: &str = "x-callback-url";
/// Response header carrying the call's secret, which `GET /calls/{id}` asks for.
pub const TOKEN_HEADER: &str = "x-call-token";

/// Request headers that are neither stored nor given to the guest: the caller's credentials.
/// The call runs later without its caller, and the store is a file on disk.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// Request headers that describe the connection or the gateway's own protocol, not the call.
const HOP_HEADERS: [&str; 5] = [
    CALLBACK_HEADER,
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
];

/// Whether the header `name` carries a credential the async path drops.
pub(super) fn is_credential(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c))
}

/// Stores the call durably, queues it and answers 202 with `X-Call-Id` and its secret in
/// `X-Call-Token` (both also in the JSON body).
///
/// Refuses before storing anything: `429 async_queue_full` when the function has
/// `async_calls.max_queued` calls unfinished, `413 payload_too_large` past
/// `async_calls.max_body`.
pub async fn accept(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    if req.method() != http::Method::POST {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
        });
    }
    // The prefix once: `/async//async/f` names no function rather than `f`.
    let path = req.uri().path();
    let rest = path.strip_prefix(ASYNC_PREFIX).unwrap_or(path);
    let (name, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut found = gw.catalog.snapshot().function(name).cloned();
    // In cluster mode a name deployed elsewhere and not seen here yet is read through.
    if found.is_none()
        && let Some(node) = &gw.cluster
        && crate::cluster::sync::read_through(gw, node, name).await
    {
        found = gw.catalog.snapshot().function(name).cloned();
    }
    let Some(deployed) = found else {
        return Err(ApiError::FunctionNotFound {
            name: name.to_owned(),
        });
    };
    // A function that asks invokers for a token asks it here too, before the body is read.
    if let Err(refused) = gw
        .access
        .invoke(&deployed.record.manifest.http.invoke_token_sha256, &req)
    {
        client_body::discard(req).await;
        return Err(refused);
    }
    if let Err(down) = deployed.serving() {
        client_body::discard(req).await;
        return Err(down);
    }
    let path = match (tail, req.uri().query()) {
        ("", Some(q)) => format!("/?{q}"),
        ("", None) => "/".to_owned(),
        (t, Some(q)) => format!("{t}?{q}"),
        (t, None) => t.to_owned(),
    };
    let callback_url = match req.headers().get(CALLBACK_HEADER) {
        None => None,
        Some(v) => {
            let url = v.to_str().unwrap_or("");
            if !url.starts_with("http://") {
                return Err(ApiError::BadRequest {
                    reason: format!("{CALLBACK_HEADER} must be an http:// URL"),
                });
            }
            Some(url.to_owned())
        }
    };
    let mut headers = req
        .headers()
        .iter()
        .filter(|(k, _)| !HOP_HEADERS.contains(&k.as_str()) && !is_credential(k.as_str()))
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    // The call's run and callback continue this request's trace (tracing on only).
    crate::telemetry::carry_into(&mut headers);
    let name = name.to_owned();
    let limits = &gw.settings.async_calls;
    // A place first: a full queue refuses before the body is read or anything is stored.
    // In cluster mode the queue is JetStream's, which bounds each function's calls itself.
    let slot = match &gw.cluster {
        Some(_) => None,
        None => Some(gw.workers.reserve(gw, &name, Some(limits.max_queued))?),
    };
    let (parts, body) = req.into_parts();
    let body = client_body::read(
        &parts,
        body,
        gw.body_limits(
            limits.body_limit(&gw.settings.http),
            "async_calls.max_body, or a lower http.max_request_body",
        ),
    )
    .await
    .map_err(|e| match e {
        ApiError::PayloadTooLarge { limit, .. } => ApiError::AsyncBodyTooLarge { limit },
        other => other,
    })?;
    let (secret, token_hash) = token::issue();
    let id = uuid::Uuid::new_v4().simple().to_string();
    let meta = CallMeta {
        function: name,
        method: "POST".into(),
        path,
        headers,
        callback_url,
        state: CallState::Queued,
        attempts: 0,
        created_at: now(),
        finished_at: None,
        result: None,
        token_hash: Some(token_hash),
    };
    // 202 only after the commit: an accepted call survives a crash.
    match (&gw.cluster, slot) {
        (Some(node), _) => super::cluster::accept(node, &id, &meta, &body).await?,
        (None, Some(slot)) => {
            let key = id.clone();
            let accepted = now_micros();
            gw.calls
                .off_runtime(move |s| s.insert(&key, &meta, &body, accepted))
                .await?;
            slot.enqueue(id.clone());
        }
        (None, None) => {
            return Err(ApiError::Internal {
                reason: "async call accepted without a queue place".into(),
            });
        }
    }
    let mut response = json(
        StatusCode::ACCEPTED,
        &json!({ "id": id, "state": "queued", "token": secret }),
    );
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&id) {
        headers.insert("x-call-id", value);
    }
    if let Ok(value) = HeaderValue::from_str(&secret) {
        headers.insert(TOKEN_HEADER, value);
    }
    // The body holds a secret: no cache may keep it.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The call's state and, once finished, its result, for `Authorization: Bearer <secret>` with
/// the secret its `202` carried, or the admin token.
///
/// A missing or wrong secret gets the same `404 not_found` as an id that does not exist, so
/// the answer never confirms that a call exists. The lookup, the secret check and the JSON
/// rendering run on a blocking thread: a large result never stalls the runtime.
pub async fn get(gw: &Arc<Gateway>, req: &Request<Incoming>) -> Result<GatewayResponse, ApiError> {
    let path = req.uri().path();
    let id = path.strip_prefix(CALLS_PREFIX).unwrap_or(path).to_owned();
    let presented = crate::auth::presented(req.headers()).unwrap_or("");
    let admin = token::is_admin(gw, presented);
    let presented = token::digest(presented);
    let rendered = match &gw.cluster {
        Some(node) => super::cluster::read(node, &id)
            .await?
            .filter(|call| {
                admin
                    || call
                        .meta
                        .token_hash
                        .is_some_and(|stored| token::matches(&stored, &presented))
            })
            .map(|call| render(&call)),
        None => local(gw, id, admin, presented).await?,
    };
    let Some(body) = rendered else {
        return Err(ApiError::NotFound {
            path: path.to_owned(),
        });
    };
    let mut response = http::Response::new(crate::response::full(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// Call `id` from this node's store, rendered, if the caller may read it.
async fn local(
    gw: &Gateway,
    id: String,
    admin: bool,
    presented: [u8; 32],
) -> Result<Option<Vec<u8>>, ApiError> {
    gw.calls
        .read_off_runtime(move |s| {
            let call = s.read(&id, |meta| {
                admin
                    || meta
                        .token_hash
                        .is_some_and(|stored| token::matches(&stored, &presented))
            })?;
            Ok(call.map(|call| render(&call)))
        })
        .await
}

/// [`view`] as JSON bytes.
pub(super) fn render(call: &CallRecord) -> Vec<u8> {
    serde_json::to_vec(&view(call)).unwrap_or_default()
}

/// The public view of a call: never its request headers or body, nor its secret.
///
/// A result body that is UTF-8 shows as `"body"`; any other shows as `"body_base64"`
/// (standard alphabet, padded).
pub fn view(call: &CallRecord) -> Value {
    let meta = &call.meta;
    let result = meta.result.as_ref().map(|head| {
        let mut result = json!({ "status": head.status, "headers": head.headers });
        let body = call.result_body.as_deref().unwrap_or_default();
        match std::str::from_utf8(body) {
            Ok(text) => result["body"] = json!(text),
            Err(_) => result["body_base64"] = json!(STANDARD.encode(body)),
        }
        result
    });
    json!({
        "id": call.id,
        "function": meta.function,
        "path": meta.path,
        "state": meta.state,
        "attempts": meta.attempts,
        "result": result,
        "created_at": meta.created_at,
        "finished_at": meta.finished_at,
    })
}
