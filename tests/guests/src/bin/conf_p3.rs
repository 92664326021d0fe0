//! The conformance guest for WASI 0.3 (`wasi:http/handler@0.3.0`, spin-sdk 7's `#[http_service]`):
//! GET / answers `hello from p3`, /echo streams the request body back as it arrives with its
//! `x-echo` header (as `x-echoed`), anything else is a 404; every answer carries
//! `x-conformance: p3` (as every `tests/conformance` guest does).

use spin_sdk::http::{IntoResponse, Request, Response, StatusCode, box_body};
use spin_sdk::http_service;

const KIND: &str = "p3";

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let response = Response::builder()
        .header("content-type", "text/plain")
        .header("x-conformance", KIND);
    match request.uri().path() {
        "/" | "" => response
            .status(StatusCode::OK)
            .body(box_body(format!("hello from {KIND}\n")))
            .map_err(|e| e.to_string()),
        "/echo" => {
            let mut response = response.status(StatusCode::OK);
            for value in request.headers().get_all("x-echo") {
                response = response.header("x-echoed", value);
            }
            // The incoming body becomes the response body unread: bytes flow through as they
            // arrive, the streaming WASI 0.3 gives a guest for free.
            response
                .body(box_body(request.into_body()))
                .map_err(|e| e.to_string())
        }
        _ => response
            .status(StatusCode::NOT_FOUND)
            .body(box_body("not found\n".to_owned()))
            .map_err(|e| e.to_string()),
    }
}

/// Never run: the host enters the component through its `wasi:http/handler` export.
fn main() {}
