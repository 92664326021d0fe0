//! {{name}}: an event handler for wasmgate. The host delivers each message on the subjects its
//! manifest subscribes to (`manifest.toml`, signed with the component by `wasmgate deploy`) to
//! `handle`, retries a refused one and dead-letters it after the last try; the handler only
//! decides what a message means.
//!
//! Each message's data is kept in the key-value store under `last/{subject}`, and
//! `GET /last/{subject}` over HTTP answers it.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "function", generate_all });
}

use bindings::exports::wasi::messaging::incoming_handler::Guest;
use bindings::wasi::keyvalue::store;
use bindings::wasi::messaging::types::{Error, Message};
use wstd::http::body::Body;
use wstd::http::{Request, Response, StatusCode};

struct Handler;
bindings::export!(Handler with_types_in bindings);

impl Guest for Handler {
    /// One message: `Ok` acknowledges it, `Err` asks the host to deliver it again later.
    fn handle(message: Message) -> Result<(), Error> {
        let subject = message.topic().unwrap_or_default();
        let bucket = store::open("default").map_err(|e| Error::Other(format!("{e:?}")))?;
        bucket
            .set(&format!("last/{subject}"), &message.data())
            .map_err(|e| Error::Other(format!("{e:?}")))
    }
}

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    let found = request
        .uri()
        .path()
        .strip_prefix("/last/")
        .and_then(|subject| {
            let bucket = store::open("default").ok()?;
            bucket.get(&format!("last/{subject}")).ok().flatten()
        });
    let (status, body) = match found {
        Some(data) => (StatusCode::OK, data),
        None => (StatusCode::NOT_FOUND, b"no message yet\n".to_vec()),
    };
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.into())?)
}
