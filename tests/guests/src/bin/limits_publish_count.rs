//! Proves `max_messages_per_call` is per call on a reused instance: each call tries to publish
//! `?n=N` messages on `counted` and answers `calls=C sent=S` (C: calls this instance served, S:
//! sends the host accepted in this call).

use std::cell::Cell;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/limits-publish",
        world: "publish-guest",
        generate_all,
    });
}
use bindings::wasi::messaging::producer;
use bindings::wasi::messaging::types::{Client, Message};

thread_local! {
    /// Calls served by this instance.
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

struct PublishCount;
wasi::http::proxy::export!(PublishCount);

impl Guest for PublishCount {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let calls = CALLS.with(|c| {
            c.set(c.get() + 1);
            c.get()
        });
        let tries = wasmgate_guests::query_number(&request, "n").unwrap_or(1);
        let mut sent = 0;
        if let Ok(client) = Client::connect("default") {
            for _ in 0..tries {
                if producer::send(&client, "counted", Message::new(b"counted")).is_ok() {
                    sent += 1;
                }
            }
        }
        let body = format!("calls={calls} sent={sent}");
        let length = body.len().to_string();
        wasmgate_guests::respond(out, 200, &[("content-length", &length)], body.as_bytes());
    }
}

fn main() {}
