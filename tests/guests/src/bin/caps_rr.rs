//! Proves `wasi:messaging/request-reply` from guests: `POST /ask/{subject}` sends the body as a
//! request and answers with the first reply; as a trigger, it replies `pong: <data>`.

use wasi::exports::http::incoming_handler::Guest as HttpGuest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-rr",
        world: "rr-guest",
        generate_all,
    });
}
use bindings::exports::wasi::messaging::incoming_handler::Guest as MessageGuest;
use bindings::wasi::messaging::request_reply::{self, RequestOptions};
use bindings::wasi::messaging::types::{Client, Error, Message};

struct Rr;
wasi::http::proxy::export!(Rr);
bindings::export!(Rr with_types_in bindings);

impl MessageGuest for Rr {
    fn handle(message: Message) -> Result<(), Error> {
        let mut answer = b"pong: ".to_vec();
        answer.extend(message.data());
        request_reply::reply(&message, Message::new(&answer))
    }
}

impl HttpGuest for Rr {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let subject = path.trim_start_matches("/ask/").to_owned();
        let body = wasmgate_guests::read_body(&request);
        let asked = Client::connect("default").and_then(|client| {
            let options = RequestOptions::new();
            options.set_timeout_ms(5000);
            request_reply::request(&client, &subject, &Message::new(&body), Some(options))
        });
        let (status, text) = match asked {
            Ok(replies) => match replies.first() {
                Some(reply) => (200, reply.data()),
                None => (504, b"no reply".to_vec()),
            },
            Err(e) => (502, format!("request: {e:?}").into_bytes()),
        };
        wasmgate_guests::respond(out, status, &[], &text);
    }
}

fn main() {}
