//! Proves waiting guests keep their function warm and hold a concurrency slot: sleeps `?ms=N` first.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Slow;
wasi::http::proxy::export!(Slow);

impl Guest for Slow {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let ms = wasmgate_guests::query_number(&request, "ms").unwrap_or(1000);
        // A monotonic-clock pollable: the host sees the guest waiting, not spinning.
        wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
        wasmgate_guests::respond(out, 200, &[], format!("slept {ms}").as_bytes());
    }
}

fn main() {}
