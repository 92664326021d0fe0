//! Proves streaming responses: `?chunks=N` lines, each written and flushed on its own.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Stream;
wasi::http::proxy::export!(Stream);

impl Guest for Stream {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let chunks = wasmgate_guests::query_number(&request, "chunks").unwrap_or(5);
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            for i in 0..chunks {
                wasmgate_guests::write_all(&stream, format!("chunk {i}\n").as_bytes());
            }
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

fn main() {}
