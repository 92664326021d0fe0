//! Async HTTP invocation: `POST /async/{name}/{*path}` answers 202 with `X-Call-Id` once the call
//! is stored durably; a per-function worker runs it (with retries on 5xx), keeps the result for
//! [`RETENTION`] at `GET /calls/{id}`, and POSTs it to `X-Callback-Url` when one was given.
//!
//! Each function has its own queue and worker, so a slow or failing function never delays
//! another's calls. Calls still queued or running when the gateway stops run after a restart.

mod http;
mod record;
mod store;
mod worker;

pub use http::{ASYNC_PREFIX, CALLBACK_HEADER, CALLS_PREFIX, accept, get, view};
pub use record::{CallRecord, CallResult, CallState};
pub use store::CallStore;
pub use worker::{Workers, expire_old};

use std::time::Duration;

/// How long a finished call's result stays readable.
pub const RETENTION: Duration = Duration::from_secs(3600);

/// Largest response body kept as a result.
pub const MAX_RESULT_BODY: usize = 1 << 20;
