//! A function's worker: runs its queued calls with retries, stores the results, hands them to
//! the callback.

use super::callback;
use super::queue::Job;
use super::record::{CallMeta, CallRecord, CallState, ResultHead};
use crate::admission::Source;
use crate::error::ApiError;
use crate::state::Gateway;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::sync::{Arc, Weak};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;
use tracing::Instrument;

/// Most calls of one function running at once from its async queue.
const MAX_RUNNING: usize = 16;

/// Takes `queue`'s jobs in order and runs up to [`MAX_RUNNING`] at once, until the gateway
/// is gone.
pub(super) async fn work(gw: Weak<Gateway>, mut queue: mpsc::UnboundedReceiver<Job>) {
    let running = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    while let Some(job) = queue.recv().await {
        let Some(gw) = gw.upgrade() else { return };
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let finished = run(&gw, &job.id).await;
            // The place in the queue is free once the result is stored, not after delivery.
            job.release();
            drop(permit);
            if let Some(call) = finished
                && let Some(url) = call.meta.callback_url.clone()
            {
                callback::deliver(&gw, &url, &call).await;
            }
        });
    }
}

/// Runs the call `id` to completion (attempts, then its stored result); `None` when it is not
/// queued any more or the store failed.
async fn run(gw: &Gateway, id: &str) -> Option<CallRecord> {
    let key = id.to_owned();
    let pending = gw.calls.off_runtime(move |s| s.pending(&key)).await;
    let (meta, body) = match pending {
        Ok(Some(pending)) => pending,
        Ok(None) => return None,
        Err(e) => {
            tracing::error!(call = %id, error = %e, "cannot read a queued async call");
            return None;
        }
    };
    let call = execute(gw, id, meta, &body).await;
    let stored = call.clone();
    let write = gw
        .calls
        .off_runtime(move |s| {
            let body = stored.result_body.as_deref().unwrap_or_default();
            s.finish(&stored.id, &stored.meta, body)
        })
        .await;
    if let Err(e) = write {
        tracing::error!(call = %id, error = %e, "cannot store an async call's result");
    }
    Some(call)
}

/// Runs call `id` (up to `events.max_attempts` attempts while the guest answers 5xx, with the
/// events' backoff between them) and returns it finished, with its result; stores nothing.
pub(super) async fn execute(
    gw: &Gateway,
    id: &str,
    mut meta: CallMeta,
    body: &Bytes,
) -> CallRecord {
    let attempts = gw.settings.events.max_attempts.max(1);
    let mut waits = crate::triggers::retry_waits(&gw.settings.events);
    let mut outcome = None;
    while meta.attempts < attempts {
        meta.attempts += 1;
        let answer = match crate::telemetry::async_call_span(
            &meta.function,
            id,
            meta.attempts,
            &meta.headers,
        ) {
            Some(span) => attempt(gw, id, &meta, body).instrument(span).await,
            None => attempt(gw, id, &meta, body).await,
        };
        let retry = answer.0.status >= 500;
        outcome = Some(answer);
        if !retry {
            break;
        }
        if meta.attempts < attempts {
            let wait = waits.next().unwrap_or(crate::triggers::MAX_RETRY_WAIT);
            tokio::time::sleep(wait).await;
        }
    }
    let (head, result_body) = outcome.unwrap_or_else(|| {
        error_result(
            ApiError::Internal {
                reason: "no attempt was made".into(),
            },
            id,
            &meta.function,
        )
    });
    meta.state = if head.status < 500 {
        CallState::Done
    } else {
        CallState::Failed
    };
    meta.result = Some(head);
    meta.finished_at = Some(now());
    CallRecord {
        id: id.to_owned(),
        meta,
        result_body: Some(result_body),
    }
}

/// One attempt: the guest's status, headers and body (at most `async_calls.max_result`), or
/// the gateway's error.
async fn attempt(gw: &Gateway, id: &str, meta: &CallMeta, body: &Bytes) -> (ResultHead, Bytes) {
    let snapshot = gw.catalog.snapshot();
    let Some(deployed) = snapshot.function(&meta.function).cloned() else {
        return error_result(
            ApiError::FunctionNotFound {
                name: meta.function.clone(),
            },
            id,
            &meta.function,
        );
    };
    drop(snapshot);
    let source = Source::Http {
        method: &meta.method,
        path: &meta.path,
    };
    if let Err(e) = gw.admission.may_execute(&deployed, source).await {
        return error_result(e, id, &meta.function);
    }
    let mut request = http::Request::builder()
        .method(meta.method.as_str())
        .uri(format!("http://localhost{}", meta.path));
    for (name, value) in &meta.headers {
        request = request.header(name, value);
    }
    // The guest's log lines carry the call id.
    let request = request.extension(wasmgate_pool::RequestId(id.into()));
    let request = match request.body(Full::new(body.clone())) {
        Ok(r) => r,
        Err(e) => {
            return error_result(
                ApiError::BadRequest {
                    reason: e.to_string(),
                },
                id,
                &meta.function,
            );
        }
    };
    let response = match deployed.function.call(request).await {
        Ok(r) => r,
        Err(e) => return error_result(e.into(), id, &meta.function),
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let limit = usize::try_from(gw.settings.async_calls.max_result.bytes()).unwrap_or(usize::MAX);
    let body = match Limited::new(response.into_body(), limit).collect().await {
        Ok(body) => body.to_bytes(),
        Err(e) => Bytes::from(match e.downcast::<wasmgate_pool::Error>() {
            // The guest failed while streaming: what the reader may know of it, never host detail.
            Ok(failed) => format!(
                "<response body not kept: {}>",
                told(&(*failed).into(), id, &meta.function)
            ),
            Err(other) => format!(
                "<response body not kept: {other} (async_calls.max_result is {limit} bytes)>"
            ),
        }),
    };
    (ResultHead { status, headers }, body)
}

/// The result of a call the gateway could not run: the error's status and what the call's
/// reader may be [`told`].
fn error_result(e: ApiError, id: &str, function: &str) -> (ResultHead, Bytes) {
    let head = ResultHead {
        status: e.classify().0.as_u16(),
        headers: Vec::new(),
    };
    (head, Bytes::from(told(&e, id, function)))
}

/// What the call's reader (at `/calls/{id}` or its callback) is told about `e`: its public
/// message, with the call id as the request id; a host failure's detail goes to the log only.
fn told(e: &ApiError, id: &str, function: &str) -> String {
    if e.classify().2 == wasmgate_pool::Blame::Host {
        tracing::error!(call = %id, function, error = %e, "async call failed");
    }
    e.public_message(Some(id))
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch: the order calls were accepted in.
pub(super) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
