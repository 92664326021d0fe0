//! {{name}}: an HTTP function for wasmgate that keeps state in the host's key-value store and
//! publishes messages on its bus. The host owns the store, the bus, HTTP, limits, logs and
//! security; the grants in deploy.toml (`keyvalue`, `messaging`) are what it may reach.
//!
//! `GET /` counts visits in the key-value store; `POST /publish` sends the request body to
//! the subject `{{name}}.events`.

mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "function", generate_all });
}

use bindings::wasi::keyvalue::{atomics, store};
use bindings::wasi::messaging::producer;
use bindings::wasi::messaging::types::{Client, Message};
use wstd::http::body::Body;
use wstd::http::{Request, Response, StatusCode};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    let route = (request.method().as_str(), request.uri().path());
    match route {
        ("GET", "/") => match visit() {
            Ok(n) => text(StatusCode::OK, format!("hello from {{name}}, visit {n}\n")),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("key-value: {e}\n")),
        },
        ("POST", "/publish") => {
            let body = request.into_body().bytes_contents().await?;
            match publish(&body) {
                Ok(()) => text(StatusCode::OK, "published\n".into()),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("messaging: {e}\n")),
            }
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n".into()),
    }
}

/// Adds one to the `visits` counter of the function's default bucket; the new count.
fn visit() -> Result<u64, String> {
    let bucket = store::open("default").map_err(|e| format!("{e:?}"))?;
    atomics::increment(&bucket, "visits", 1).map_err(|e| format!("{e:?}"))
}

/// Publishes `body` to `{{name}}.events`.
fn publish(body: &[u8]) -> Result<(), String> {
    let client = Client::connect("default").map_err(|e| format!("{e:?}"))?;
    let message = Message::new(body);
    message.set_content_type("text/plain");
    producer::send(&client, "{{name}}.events", message).map_err(|e| format!("{e:?}"))
}

fn text(status: StatusCode, body: String) -> Result<Response<Body>, wstd::http::Error> {
    Ok(Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.into())?)
}
