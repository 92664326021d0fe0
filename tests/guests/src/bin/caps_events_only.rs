//! Proves message-only functions: exports only `wasi:messaging/incoming-handler` (no HTTP) and
//! stores each message under its topic in bucket `events` (shared with a function that reads it).

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-events",
        world: "events-guest",
        generate_all,
    });
}
use bindings::exports::wasi::messaging::incoming_handler::Guest;
use bindings::wasi::keyvalue::store;
use bindings::wasi::messaging::types::{Error, Message};

struct OnlyEvents;
bindings::export!(OnlyEvents with_types_in bindings);

impl Guest for OnlyEvents {
    fn handle(message: Message) -> Result<(), Error> {
        let topic = message.topic().unwrap_or_default();
        let failed = |e| Error::Other(format!("{e:?}"));
        let bucket = store::open("events").map_err(failed)?;
        let mut stored = b"only: ".to_vec();
        stored.extend(message.data());
        bucket.set(&topic, &stored).map_err(failed)
    }
}

fn main() {}
