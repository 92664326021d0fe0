//! Proves the per-call message limit: publishes on `flood` in a loop that never ends and ignores
//! every error, so the limit must refuse its sends and the timeout must stop it.

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

struct PublishLoop;
wasi::http::proxy::export!(PublishLoop);

impl Guest for PublishLoop {
    fn handle(_request: IncomingRequest, _out: ResponseOutparam) {
        let client = Client::connect("default");
        loop {
            if let Ok(client) = &client {
                let _ = producer::send(client, "flood", Message::new(b"flood"));
            }
        }
    }
}

fn main() {}
