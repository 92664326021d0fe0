//! {{name}}: an HTTP function for wasmgate. The host owns the HTTP server, TLS, limits, logs,
//! metrics and security; this file is the business logic. `/fn/{{name}}/PATH` reaches it as
//! `PATH`; what it prints to stdout or stderr lands in the gateway's log with the request id.

use wstd::http::body::Body;
use wstd::http::{Request, Response, StatusCode};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    match request.uri().path() {
        "/" => Ok(Response::builder()
            .header("content-type", "text/plain")
            .body("hello from {{name}}\n".into())?),
        _ => Ok(Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "text/plain")
            .body("not found\n".into())?),
    }
}
