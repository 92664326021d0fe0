//! A page-hit counter: every request increments `hits/<path>` atomically in the host's key-value
//! store and answers the new count. Needs the `keyvalue` grant.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "counter", generate_all });
}
use bindings::wasi::keyvalue::{atomics, store};

struct Counter;
wasi::http::proxy::export!(Counter);

impl Guest for Counter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_else(|| "/".into());
        let (status, text) =
            match store::open("hits").and_then(|b| atomics::increment(&b, &path, 1)) {
                Ok(n) => (200, format!("{path} has been visited {n} times\n")),
                Err(e) => (500, format!("key-value store failed: {e:?}\n")),
            };
        respond(out, status, text.as_bytes());
    }
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::new();
    let _ = headers.set("content-type", &[b"text/plain".to_vec()]);
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(status);
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
