//! The gateway's response type: a guest's streamed body or a small body the gateway wrote.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Either, Full};
use wasmgate_pool::ResponseBody;

/// A response body: either streamed from a guest, or built by the gateway (JSON, health) or
/// relayed from a peer node (a forwarded call's response, streamed).
pub type GatewayBody = Either<ResponseBody, BoxBody<Bytes, RelayError>>;

/// Why a body relayed from a peer node broke off (a body the gateway wrote cannot fail).
#[derive(Debug, thiserror::Error)]
#[error("the peer node's response broke off: {0}")]
pub struct RelayError(#[from] pub hyper::Error);

/// A body of `bytes` written by the gateway.
pub fn full(bytes: impl Into<Bytes>) -> GatewayBody {
    Either::Right(
        Full::new(bytes.into())
            .map_err(|never| match never {})
            .boxed(),
    )
}

/// A response the gateway sends.
pub type GatewayResponse = http::Response<GatewayBody>;

/// A JSON response with `status`.
pub fn json(status: StatusCode, value: &serde_json::Value) -> GatewayResponse {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> GatewayResponse {
    let mut response = http::Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Wraps a guest's response for sending.
pub fn from_guest(response: http::Response<ResponseBody>) -> GatewayResponse {
    response.map(Either::Left)
}

/// A plain-text response with `status`.
pub fn text(status: StatusCode, body: String) -> GatewayResponse {
    let mut response = http::Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
