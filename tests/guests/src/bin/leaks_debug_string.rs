//! Proves that a guest learns what failed and nothing of the host: reads its request body and, when
//! the read fails (past `http.max_request_body`), answers with the error's `to-debug-string()`;
//! `x-outcome` says whether the read failed.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingBody, IncomingRequest, ResponseOutparam};
use wasi::io::streams::StreamError;

struct DebugString;
wasi::http::proxy::export!(DebugString);

impl Guest for DebugString {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let Ok(body) = request.consume() else {
            return wasmgate_guests::respond(out, 500, &[], b"no body");
        };
        let Ok(stream) = body.stream() else {
            return wasmgate_guests::respond(out, 500, &[], b"no body stream");
        };
        let mut read = 0;
        let failure = loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => read += chunk.len(),
                Err(StreamError::Closed) => break None,
                Err(StreamError::LastOperationFailed(error)) => {
                    break Some(error.to_debug_string());
                }
            }
        };
        drop(stream);
        let _ = IncomingBody::finish(body);
        match failure {
            Some(text) => {
                wasmgate_guests::respond(out, 200, &[("x-outcome", "failed")], text.as_bytes())
            }
            None => wasmgate_guests::respond(
                out,
                200,
                &[("x-outcome", "complete")],
                format!("read {read} bytes").as_bytes(),
            ),
        }
    }
}

fn main() {}
