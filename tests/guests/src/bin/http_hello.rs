//! Proves the basic path: a component answers 200 with a fixed body (also the benchmark guest).

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Hello;
wasi::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        wasmgate_guests::respond(
            out,
            200,
            &[("content-type", "text/plain")],
            b"hello from wasmgate\n",
        );
    }
}

fn main() {}
