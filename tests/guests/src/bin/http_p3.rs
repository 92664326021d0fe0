//! Proves WASI 0.3 components (`wasi:http/handler@0.3.0`, built with spin-sdk 7) deploy and answer:
//! echoes the request body as it streams in, names its release in `x-wasi`, traps on `?trap`,
//! traps after the first chunk of its body on `?trap-mid-body`, and spins forever on `?spin` (to
//! meet the function's timeout).

use bytes::Bytes;
use http_body::Frame;
use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;
use std::pin::Pin;
use std::task::{Context, Poll};

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    match request.uri().query().unwrap_or("") {
        "trap" => panic!("asked to trap"),
        "spin" => spin(),
        "trap-mid-body" => {
            return spin_sdk::http::Response::builder()
                .status(StatusCode::OK)
                .body(spin_sdk::http::box_body(ChunkThenTrap(false)))
                .map_err(|e| e.to_string());
        }
        _ => {}
    }
    // The incoming body becomes the response body unread: bytes flow through as they arrive.
    spin_sdk::http::Response::builder()
        .status(StatusCode::OK)
        .header("x-wasi", "0.3")
        .body(spin_sdk::http::box_body(request.into_body()))
        .map_err(|e| e.to_string())
}

/// A body whose first chunk arrives and whose second poll traps: the host has sent the head.
struct ChunkThenTrap(bool);

impl http_body::Body for ChunkThenTrap {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        assert!(!self.0, "asked to trap mid-body");
        self.0 = true;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"partial ")))))
    }
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
