//! Async HTTP invocation: `POST /async/{name}/{*path}` answers 202 with `X-Call-Id` and a secret
//! (`X-Call-Token`) once the call is stored durably; a per-function worker runs it (with retries
//! on 5xx), keeps the result for `async_calls.retention` at `GET /calls/{id}` (for the secret's
//! holder and the admin), and POSTs it to `X-Callback-Url` when one was given.
//!
//! Each function has its own bounded queue (`async_calls.max_queued`) and worker, so a slow or
//! failing function never delays another's calls. Bodies are bounded (`async_calls.max_body`,
//! `async_calls.max_result`) and stored as bytes; the caller's credentials are not stored.
//! Calls still queued or running when the gateway stops run after a restart.

mod blob;
mod callback;
pub mod cluster;
mod expiry;
mod http;
mod legacy;
mod queue;
mod record;
mod store;
mod token;
mod worker;

pub use expiry::expire_old;
pub use http::{ASYNC_PREFIX, CALLBACK_HEADER, CALLS_PREFIX, TOKEN_HEADER, accept, get, view};
pub use queue::Workers;
pub use record::{CallMeta, CallRecord, CallState, ResultHead};
pub use store::CallStore;

use crate::error::ApiError;
use crate::state::Gateway;
use std::sync::Arc;

/// Queues every call that was accepted but not finished when the gateway last stopped; the
/// scan reads the queue index only, on a blocking thread.
pub async fn resume(gw: &Arc<Gateway>) -> Result<usize, ApiError> {
    let queued = gw.calls.off_runtime(|s| s.queued()).await?;
    let count = queued.len();
    for (id, function) in queued {
        gw.workers.reserve(gw, &function, None)?.enqueue(id);
    }
    Ok(count)
}
