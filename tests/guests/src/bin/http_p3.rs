//! Proves WASI 0.3 components (`wasi:http/handler@0.3.0`, built with spin-sdk 7) deploy and answer:
//! echoes the request body as it streams in, names its release in `x-wasi`, traps on `?trap`
//! and spins forever on `?spin` (to meet the function's timeout).

use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    match request.uri().query().unwrap_or("") {
        "trap" => panic!("asked to trap"),
        "spin" => spin(),
        _ => {}
    }
    // The incoming body becomes the response body unread: bytes flow through as they arrive.
    spin_sdk::http::Response::builder()
        .status(StatusCode::OK)
        .header("x-wasi", "0.3")
        .body(request.into_body())
        .map_err(|e| e.to_string())
}

/// Loops without end, so only the host's deadline stops the call.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Never run: the host enters the component through its `wasi:http/handler` export.
fn main() {}
