//! A publisher: `POST /{subject}` publishes the request body on that subject through
//! `wasi:messaging/producer` (a webhook turned into an event). Needs the `messaging` grant.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "publisher", generate_all });
}
use bindings::wasi::messaging::producer;
use bindings::wasi::messaging::types::{Client, Message};

struct Publisher;
wasi::http::proxy::export!(Publisher);

impl Guest for Publisher {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let subject = path.trim_start_matches('/').to_owned();
        let body = read_body(&request);
        let sent = Client::connect("default").and_then(|client| {
            let message = Message::new(&body);
            message.set_content_type("application/octet-stream");
            producer::send(&client, &subject, message)
        });
        let (status, text) = match sent {
            Ok(()) => (202, format!("published on {subject}\n")),
            Err(e) => (502, format!("publish failed: {e:?}\n")),
        };
        respond(out, status, text.as_bytes());
    }
}

fn read_body(request: &IncomingRequest) -> Vec<u8> {
    let mut all = Vec::new();
    let Ok(body) = request.consume() else {
        return all;
    };
    if let Ok(stream) = body.stream() {
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            all.extend_from_slice(&chunk);
        }
    }
    let _ = IncomingBody::finish(body);
    all
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
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
