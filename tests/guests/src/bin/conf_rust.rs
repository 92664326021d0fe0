//! The conformance guest on the `wasi` crate's raw bindings: GET / answers `hello from rust`,
//! /echo echoes the request body and its `x-echo` header (as `x-echoed`), anything else is a
//! 404; every answer carries `x-conformance: rust` (as every `tests/conformance` guest does).

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

const KIND: &str = "rust";

struct Conformance;
wasi::http::proxy::export!(Conformance);

impl Guest for Conformance {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.split('?').next().unwrap_or("/");
        let mut headers = vec![("content-type", "text/plain"), ("x-conformance", KIND)];
        match path {
            "/" | "" => {
                let body = format!("hello from {KIND}\n");
                wasmgate_guests::respond(out, 200, &headers, body.as_bytes());
            }
            "/echo" => {
                let echoed: Vec<String> = request
                    .headers()
                    .get("x-echo")
                    .iter()
                    .map(|v| String::from_utf8_lossy(v).into_owned())
                    .collect();
                for value in &echoed {
                    headers.push(("x-echoed", value));
                }
                let body = wasmgate_guests::read_body(&request);
                wasmgate_guests::respond(out, 200, &headers, &body);
            }
            _ => wasmgate_guests::respond(out, 404, &headers, b"not found\n"),
        }
    }
}

fn main() {}
