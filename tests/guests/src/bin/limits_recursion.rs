//! Proves the wasm stack limit: recurses without bound until the host's stack guard traps.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Deep;
wasi::http::proxy::export!(Deep);

fn descend(depth: u64) -> u64 {
    // Never true in practice; keeps the compiler from flagging endless recursion.
    if depth == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 16]);
    descend(std::hint::black_box(depth + 1)) + frame[0]
}

impl Guest for Deep {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let depth = descend(0);
        wasmgate_guests::respond(out, 200, &[], depth.to_string().as_bytes());
    }
}

fn main() {}
