//! Proves components built with the `wstd` async runtime deploy and answer like any other.

use wstd::http::body::Body;
use wstd::http::{Request, Response};

#[wstd::http_server]
async fn main(_request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    Ok(Response::new("hello from wstd\n".into()))
}
