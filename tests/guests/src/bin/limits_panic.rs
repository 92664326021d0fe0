//! Proves a guest panic becomes a trap the host answers with 500, not a crash.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Panic;
wasi::http::proxy::export!(Panic);

impl Guest for Panic {
    fn handle(_request: IncomingRequest, _out: ResponseOutparam) {
        panic!("guest panicked on purpose");
    }
}

fn main() {}
