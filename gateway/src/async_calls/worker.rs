//! One queue and worker per function: runs its async calls with retries, stores the results,
//! delivers callbacks.

use super::record::{CallRecord, CallResult, CallState};
use super::{CallStore, MAX_RESULT_BODY};
use crate::admission::Source;
use crate::state::Gateway;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::mpsc;

/// Most calls of one function running at once from its async queue.
const MAX_RUNNING: usize = 16;

/// The per-function queues.
#[derive(Default)]
pub struct Workers {
    queues: Mutex<HashMap<String, mpsc::UnboundedSender<CallRecord>>>,
}

impl Workers {
    /// Queues `call` (already stored durably) on its function's worker, starting the worker if
    /// this is the function's first call.
    pub fn enqueue(&self, gw: &Arc<Gateway>, call: CallRecord) {
        let Ok(mut queues) = self.queues.lock() else {
            return;
        };
        let sender = queues.entry(call.function.clone()).or_insert_with(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(work(Arc::downgrade(gw), rx));
            tx
        });
        // The worker only stops with the gateway; a lost call stays queued in the store.
        let _ = sender.send(call);
    }
}

async fn work(gw: Weak<Gateway>, mut queue: mpsc::UnboundedReceiver<CallRecord>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    while let Some(call) = queue.recv().await {
        let Some(gw) = gw.upgrade() else { return };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            run(&gw, call).await;
            drop(slot);
        });
    }
}

/// Runs one call to completion: attempts, result, callback.
async fn run(gw: &Gateway, mut call: CallRecord) {
    let attempts = gw.settings.events.max_attempts.max(1);
    let mut waits = crate::triggers::retry_waits(&gw.settings.events);
    let mut result = None;
    while call.attempts < attempts {
        call.attempts += 1;
        let answer = attempt(gw, &call).await;
        let retry = answer.status >= 500;
        result = Some(answer);
        if !retry {
            break;
        }
        if call.attempts < attempts {
            let wait = waits.next().unwrap_or(crate::triggers::MAX_RETRY_WAIT);
            tokio::time::sleep(wait).await;
        }
    }
    call.state = match &result {
        Some(r) if r.status < 500 => CallState::Done,
        _ => CallState::Failed,
    };
    call.result = result;
    call.finished_at = Some(now());
    if let Err(e) = gw.calls.put(&call).await {
        tracing::error!(call = %call.id, error = %e, "cannot store an async call's result");
    }
    if let Some(url) = &call.callback_url {
        callback(url, &call).await;
    }
}

async fn attempt(gw: &Gateway, call: &CallRecord) -> CallResult {
    let error = |e: crate::error::ApiError| CallResult {
        status: e.classify().0.as_u16(),
        headers: Vec::new(),
        body: told(&e, call),
    };
    let snapshot = gw.catalog.snapshot();
    let Some(deployed) = snapshot.function(&call.function).cloned() else {
        return error(crate::error::ApiError::FunctionNotFound {
            name: call.function.clone(),
        });
    };
    drop(snapshot);
    let source = Source::Http {
        method: &call.method,
        path: &call.path,
    };
    if let Err(e) = gw.admission.may_execute(&deployed, source).await {
        return error(e);
    }
    let mut request = http::Request::builder()
        .method(call.method.as_str())
        .uri(format!("http://localhost{}", call.path));
    for (name, value) in &call.headers {
        request = request.header(name, value);
    }
    // The guest's log lines carry the call id.
    let request = request.extension(wasmgate_pool::RequestId(call.id.as_str().into()));
    let request = match request.body(Full::new(Bytes::from(call.body.clone()))) {
        Ok(r) => r,
        Err(e) => {
            return error(crate::error::ApiError::BadRequest {
                reason: e.to_string(),
            });
        }
    };
    let response = match deployed.function.call(request).await {
        Ok(r) => r,
        Err(e) => return error(e.into()),
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let body = match Limited::new(response.into_body(), MAX_RESULT_BODY)
        .collect()
        .await
    {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(e) => {
            let reason = match e.downcast::<wasmgate_pool::Error>() {
                Ok(failed) => told(&(*failed).into(), call),
                // Over MAX_RESULT_BODY: the length error names only the limit.
                Err(other) => other.to_string(),
            };
            format!("<response body not kept: {reason}>")
        }
    };
    CallResult {
        status,
        headers,
        body,
    }
}

/// What the call's reader (at `/calls/{id}` or its callback) is told about `e`: its public
/// message, with the call id as the request id; a host failure's detail goes to the log only.
fn told(e: &crate::error::ApiError, call: &CallRecord) -> String {
    if e.classify().2 == wasmgate_pool::Blame::Host {
        tracing::error!(call = %call.id, function = %call.function, error = %e, "async call failed");
    }
    e.public_message(Some(&call.id))
}

/// POSTs the finished call to `url`, trying a few times; a receiver that never answers 2xx is
/// logged, the result stays readable at `/calls/{id}` either way.
async fn callback(url: &str, call: &CallRecord) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build();
    let Ok(client) = client else { return };
    let body = super::view(call);
    for attempt in 1..=3u32 {
        match client.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(call = %call.id, status = %r.status(), attempt, "callback refused")
            }
            Err(e) => tracing::warn!(call = %call.id, error = %e, attempt, "callback failed"),
        }
        tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
    }
}

/// Seconds since the Unix epoch.
pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Keeps `store` free of results older than the retention.
pub async fn expire_old(store: CallStore) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        let cutoff = now().saturating_sub(super::RETENTION.as_secs());
        if let Err(e) = store.expire(cutoff) {
            tracing::warn!(error = %e, "cannot expire old async calls");
        }
    }
}
