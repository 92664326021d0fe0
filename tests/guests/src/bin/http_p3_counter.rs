//! Proves instance reuse for WASI 0.3 (`wasi:http/handler@0.3.0`, spin-sdk 7): a global counts
//! the calls this instance has served and the answer is `calls=N`, as `http_counter` does for 0.2.

use spin_sdk::http::{IntoResponse, Request, Response, StatusCode, box_body};
use spin_sdk::http_service;
use std::sync::atomic::{AtomicU64, Ordering};

/// Calls served by this instance; lives in its linear memory.
static CALLS: AtomicU64 = AtomicU64::new(0);

#[http_service]
async fn handle(_request: Request) -> impl IntoResponse {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(box_body(format!("calls={calls}")))
        .map_err(|e| e.to_string())
}

/// Never run: the host enters the component through its `wasi:http/handler` export.
fn main() {}
