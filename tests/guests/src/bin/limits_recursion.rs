//! Proves the wasm stack limit: recurses without bound until the host's stack guard traps.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Deep;
wasi::http::proxy::export!(Deep);

/// Recursion kept in wasm locals (no shadow-stack frames), so the native wasm stack runs out first;
/// combining the result after the call keeps it from becoming a loop.
#[inline(never)]
fn descend(depth: u64) -> u64 {
    // Never true in practice; keeps the compiler from flagging endless recursion.
    if depth == u64::MAX {
        return 0;
    }
    let below = descend(depth.wrapping_add(1));
    below.rotate_left((depth % 63) as u32) ^ depth
}

impl Guest for Deep {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let depth = descend(std::hint::black_box(0));
        wasmgate_guests::respond(out, 200, &[], depth.to_string().as_bytes());
    }
}

fn main() {}
