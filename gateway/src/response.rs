//! The gateway's response type: a guest's streamed body or a small body the gateway wrote.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::{Either, Full};
use wasmgate_pool::ResponseBody;

/// A response body: either streamed from a guest, or built by the gateway (JSON, health).
pub type GatewayBody = Either<ResponseBody, Full<Bytes>>;

/// A response the gateway sends.
pub type GatewayResponse = http::Response<GatewayBody>;

/// A JSON response with `status`.
pub fn json(status: StatusCode, value: &serde_json::Value) -> GatewayResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> GatewayResponse {
    let mut response = http::Response::new(Either::Right(Full::new(Bytes::new())));
    *response.status_mut() = status;
    response
}

/// Wraps a guest's response for sending.
pub fn from_guest(response: http::Response<ResponseBody>) -> GatewayResponse {
    response.map(Either::Left)
}

/// A plain-text response with `status`.
pub fn text(status: StatusCode, body: String) -> GatewayResponse {
    let mut response = http::Response::new(Either::Right(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
