//! Proves streaming responses: `?chunks=N` lines, each written and flushed on its own;
//! `&pad=B` adds B filler bytes to each line (at most 4,000, one host write per line), so a
//! test can fill a connection's buffers in few guest steps.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Stream;
wasi::http::proxy::export!(Stream);

impl Guest for Stream {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let chunks = wasmgate_guests::query_number(&request, "chunks").unwrap_or(5);
        let pad = wasmgate_guests::query_number(&request, "pad").map_or(0, |pad| pad.min(4_000));
        let filler = "x".repeat(usize::try_from(pad).unwrap_or(0));
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            for i in 0..chunks {
                wasmgate_guests::write_all(&stream, format!("chunk {i}{filler}\n").as_bytes());
            }
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

fn main() {}
