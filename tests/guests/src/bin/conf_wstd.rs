//! The conformance guest on `wstd`: GET / answers `hello from wstd`, /echo echoes the request
//! body and its `x-echo` header (as `x-echoed`), anything else is a 404; every answer carries
//! `x-conformance: wstd` (as every `tests/conformance` guest does).

use wstd::http::body::Body;
use wstd::http::{Request, Response, StatusCode};

const KIND: &str = "wstd";

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    let response = Response::builder()
        .header("content-type", "text/plain")
        .header("x-conformance", KIND);
    let path = request.uri().path().to_owned();
    match path.as_str() {
        "/" => Ok(response.body(format!("hello from {KIND}\n").into())?),
        "/echo" => {
            let mut response = response;
            for value in request.headers().get_all("x-echo") {
                response = response.header("x-echoed", value);
            }
            let mut body = request.into_body();
            let body = body.contents().await?.to_vec();
            Ok(response.body(body.into())?)
        }
        _ => Ok(response
            .status(StatusCode::NOT_FOUND)
            .body("not found\n".into())?),
    }
}
