//! The conformance guest built with the Spin Rust SDK 5: GET / answers `hello from spin5`, /echo
//! echoes the request body and its `x-echo` header (as `x-echoed`), anything else is a 404; every
//! answer carries `x-conformance: spin5`.

use spin_sdk::http::{IntoResponse, Request, Response};
use spin_sdk::http_component;

const KIND: &str = "spin5";

#[http_component]
fn handle(request: Request) -> anyhow::Result<impl IntoResponse> {
    let path = request.path();
    let mut response = Response::builder();
    response
        .header("content-type", "text/plain")
        .header("x-conformance", KIND);
    Ok(match path {
        "/" => response
            .status(200)
            .body(format!("hello from {KIND}\n"))
            .build(),
        "/echo" => {
            if let Some(echo) = request.header("x-echo") {
                response.header("x-echoed", echo.as_str().unwrap_or_default());
            }
            response.status(200).body(request.body().to_vec()).build()
        }
        _ => response.status(404).body("not found\n").build(),
    })
}
