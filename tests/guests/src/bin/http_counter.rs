//! Proves instance reuse from the inside: a global counts the calls this instance has served and
//! the answer is that count (`calls=N`, with its `content-length`), so 1 on every call means a
//! fresh instance per call and 1, 2, 3 … one instance reused. `?trap` counts, then traps;
//! `?keep-request` counts, answers, and keeps the request handle in a global (a piece of the
//! call left in the host's resource table); `?partial` prints a line without its newline.

use std::cell::{Cell, RefCell};
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

thread_local! {
    /// Calls served by this instance; lives in its linear memory.
    static CALLS: Cell<u64> = const { Cell::new(0) };
    /// A request kept past its call by `?keep-request`.
    static KEPT: RefCell<Option<IncomingRequest>> = const { RefCell::new(None) };
}

struct Counter;
wasi::http::proxy::export!(Counter);

impl Guest for Counter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let calls = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let query = request
            .path_with_query()
            .and_then(|p| p.split_once('?').map(|(_, q)| q.to_owned()))
            .unwrap_or_default();
        match query.as_str() {
            "trap" => panic!("asked to trap on call {calls}"),
            "partial" => {
                print!("call {calls} without a newline");
                let _ = std::io::Write::flush(&mut std::io::stdout());
            }
            _ => {}
        }
        let body = format!("calls={calls}");
        let length = body.len().to_string();
        wasmgate_guests::respond(
            out,
            200,
            &[("content-type", "text/plain"), ("content-length", &length)],
            body.as_bytes(),
        );
        if query == "keep-request" {
            KEPT.with(|k| *k.borrow_mut() = Some(request));
        }
    }
}

fn main() {}
