//! Proves a response the guest does not complete is never sent as complete: `?declare=N` sets
//! `content-length: N`, `?write=M` writes M bytes (default 5), and `?trap=1` traps a moment after
//! writing (so the head and the first bytes have left) instead of finishing the body.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Cut;
wasi::http::proxy::export!(Cut);

impl Guest for Cut {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let declare = wasmgate_guests::query_number(&request, "declare");
        let write = wasmgate_guests::query_number(&request, "write").unwrap_or(5);
        let trap = wasmgate_guests::query_number(&request, "trap").is_some_and(|t| t != 0);
        let fields = Fields::new();
        if let Some(length) = declare {
            let _ = fields.append("content-length", length.to_string().as_bytes());
        }
        let response = OutgoingResponse::new(fields);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            let bytes = vec![b'x'; usize::try_from(write).unwrap_or(0)];
            wasmgate_guests::write_all(&stream, &bytes);
        }
        if trap {
            wasi::clocks::monotonic_clock::subscribe_duration(200_000_000).block();
            panic!("trapping mid-response, as asked");
        }
        // A length that does not match what was written makes this fail; the host must not send
        // the response as complete either way.
        let _ = OutgoingBody::finish(body, None);
    }
}

fn main() {}
