//! `POST /async/{name}/{*path}` and `GET /calls/{id}`.

use super::record::{CallRecord, CallState};
use super::worker::now;
use crate::client_body;
use crate::error::ApiError;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use http::{HeaderValue, Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use std::sync::Arc;

/// Path prefix of async invocation.
pub const ASYNC_PREFIX: &str = "/async/";
/// Path prefix of call results.
pub const CALLS_PREFIX: &str = "/calls/";
/// Header naming where to POST the result.
pub const CALLBACK_HEADER: &str = "x-callback-url";

/// Stores the call durably, queues it and answers 202 with `X-Call-Id`.
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
    if gw.catalog.snapshot().function(name).is_none() {
        return Err(ApiError::FunctionNotFound {
            name: name.to_owned(),
        });
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
    let headers = req
        .headers()
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                CALLBACK_HEADER | "host" | "connection" | "content-length" | "transfer-encoding"
            )
        })
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let name = name.to_owned();
    let (parts, body) = req.into_parts();
    let limits = gw.body_limits(gw.settings.max_module_size.bytes());
    let body = client_body::read(&parts.headers, body, limits).await?;
    let call = CallRecord {
        id: uuid::Uuid::new_v4().simple().to_string(),
        function: name,
        method: "POST".into(),
        path,
        headers,
        body: body.to_vec(),
        callback_url,
        state: CallState::Queued,
        attempts: 0,
        result: None,
        created_at: now(),
        finished_at: None,
    };
    gw.calls.put(&call).await?;
    let id = call.id.clone();
    gw.workers.enqueue(gw, call);
    let mut response = json(
        StatusCode::ACCEPTED,
        &json!({ "id": id, "state": "queued" }),
    );
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-call-id", value);
    }
    Ok(response)
}

/// The call's state and, once finished, its result.
pub fn get(gw: &Gateway, req: &Request<Incoming>) -> Result<GatewayResponse, ApiError> {
    let path = req.uri().path();
    let id = path.strip_prefix(CALLS_PREFIX).unwrap_or(path);
    let call = gw.calls.get(id)?.ok_or_else(|| ApiError::NotFound {
        path: path.to_owned(),
    })?;
    Ok(json(StatusCode::OK, &view(&call)))
}

/// The public view of a call (the request body is not echoed back).
pub fn view(call: &CallRecord) -> Value {
    json!({
        "id": call.id,
        "function": call.function,
        "path": call.path,
        "state": call.state,
        "attempts": call.attempts,
        "result": call.result,
        "created_at": call.created_at,
        "finished_at": call.finished_at,
    })
}
