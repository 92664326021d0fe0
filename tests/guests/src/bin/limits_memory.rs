//! Proves the memory limit: allocates and touches 1 MiB after 1 MiB until the host refuses.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Bomb;
wasi::http::proxy::export!(Bomb);

impl Guest for Bomb {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let mut hoard: Vec<Vec<u8>> = Vec::new();
        for _ in 0..1_000_000 {
            hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
        }
        wasmgate_guests::respond(out, 200, &[], format!("hoarded {}", hoard.len()).as_bytes());
    }
}

fn main() {}
