//! Shared helpers for wasmgate's test guests: answering a `wasi:http` request in one call.

use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, OutputStream,
    ResponseOutparam,
};

pub use wasi;

/// Sends a complete response with `status`, `headers` and `body`.
pub fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let fields = Fields::new();
    for (name, value) in headers {
        let _ = fields.append(name, value.as_bytes());
    }
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(status);
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        write_all(&stream, body);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Writes `bytes` to a body stream in pieces the host accepts, flushing each.
pub fn write_all(stream: &OutputStream, bytes: &[u8]) {
    // blocking_write_and_flush takes at most 4096 bytes per call.
    for chunk in bytes.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
}

/// The request's query parameter `name`, parsed as a number.
pub fn query_number(request: &IncomingRequest, name: &str) -> Option<u64> {
    let path = request.path_with_query()?;
    let query = path.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| value.parse().ok()).flatten()
    })
}

/// The whole request body (empty when there is none or it cannot be read).
pub fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut all = Vec::new();
    let Ok(body) = request.consume() else {
        return all;
    };
    if let Ok(stream) = body.stream() {
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            all.extend_from_slice(&chunk);
        }
    }
    let _ = IncomingBody::finish(body);
    all
}
