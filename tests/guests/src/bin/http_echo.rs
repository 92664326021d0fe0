//! Proves pass-through: method, path and query, headers and the full body reach the guest.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

struct Echo;
wasi::http::proxy::export!(Echo);

impl Guest for Echo {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let method = match request.method() {
            Method::Get => "GET".to_string(),
            Method::Head => "HEAD".to_string(),
            Method::Post => "POST".to_string(),
            Method::Put => "PUT".to_string(),
            Method::Delete => "DELETE".to_string(),
            Method::Patch => "PATCH".to_string(),
            Method::Options => "OPTIONS".to_string(),
            Method::Connect => "CONNECT".to_string(),
            Method::Trace => "TRACE".to_string(),
            Method::Other(other) => other,
        };
        let path = request.path_with_query().unwrap_or_default();
        let mut headers = String::new();
        for (name, value) in request.headers().entries() {
            if !headers.is_empty() {
                headers.push(',');
            }
            headers.push_str(&format!(
                "{}:{}",
                json_string(&name.to_lowercase()),
                json_string(&String::from_utf8_lossy(&value))
            ));
        }
        let body = wasmgate_guests::read_body(&request);
        let json = format!(
            "{{\"method\":{},\"path_with_query\":{},\"headers\":{{{}}},\"body\":{}}}",
            json_string(&method),
            json_string(&path),
            headers,
            json_string(&String::from_utf8_lossy(&body))
        );
        let len = body.len().to_string();
        wasmgate_guests::respond(
            out,
            200,
            &[("content-type", "application/json"), ("x-body-len", &len)],
            json.as_bytes(),
        );
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn main() {}
