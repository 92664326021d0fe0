//! An event consumer: counts the messages of every subject it is triggered by (key-value
//! atomics) and keeps the last one; `GET /{subject}` answers `count: last message`.
//! Needs the `messaging` and `keyvalue` grants and a `[[triggers]]` subject in its manifest.

use wasi::exports::http::incoming_handler::Guest as HttpGuest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "consumer", generate_all });
}
use bindings::exports::wasi::messaging::incoming_handler::Guest as MessageGuest;
use bindings::wasi::keyvalue::{atomics, store};
use bindings::wasi::messaging::types::{Error, Message};

struct Consumer;
wasi::http::proxy::export!(Consumer);
bindings::export!(Consumer with_types_in bindings);

impl MessageGuest for Consumer {
    fn handle(message: Message) -> Result<(), Error> {
        let subject = message.topic().unwrap_or_default();
        let failed = |e| Error::Other(format!("key-value store: {e:?}"));
        let bucket = store::open("events").map_err(failed)?;
        atomics::increment(&bucket, &format!("count/{subject}"), 1).map_err(failed)?;
        bucket
            .set(&format!("last/{subject}"), &message.data())
            .map_err(failed)
    }
}

impl HttpGuest for Consumer {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let subject = path.trim_start_matches('/');
        let read = |key: String| {
            store::open("events")
                .ok()
                .and_then(|b| b.get(&key).ok().flatten())
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        };
        let count = read(format!("count/{subject}")).unwrap_or_else(|| "0".into());
        let last = read(format!("last/{subject}")).unwrap_or_default();
        respond(out, format!("{count}: {last}\n").as_bytes());
    }
}

fn respond(out: ResponseOutparam, body: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let Ok(outgoing) = response.body() else {
        return;
    };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = outgoing.write() {
        let _ = stream.blocking_write_and_flush(body);
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

fn main() {}
