//! Proves the timeout: spins forever without yielding; the host must cut it off and keep serving.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Spin;
wasi::http::proxy::export!(Spin);

impl Guest for Spin {
    fn handle(_request: IncomingRequest, _out: ResponseOutparam) {
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
}

fn main() {}
