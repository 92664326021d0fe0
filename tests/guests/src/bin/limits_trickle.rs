//! Proves a response that never ends is cut off by the function's timeout: writes `tick` every
//! 100ms, forever.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

struct Trickle;
wasi::http::proxy::export!(Trickle);

impl Guest for Trickle {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        let Ok(stream) = body.write() else { return };
        loop {
            wasmgate_guests::write_all(&stream, b"tick\n");
            wasi::clocks::monotonic_clock::subscribe_duration(100_000_000).block();
        }
    }
}

fn main() {}
