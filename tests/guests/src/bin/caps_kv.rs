//! Proves the `keyvalue` grant: `/{bucket}/{key}` — GET reads, PUT writes the body, POST increments
//! by 1 and answers the new value, DELETE removes.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-kv",
        world: "kv-guest",
        generate_all,
    });
}
use bindings::wasi::keyvalue::{atomics, store};

struct Kv;
wasi::http::proxy::export!(Kv);

impl Guest for Kv {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.strip_prefix('/').unwrap_or(&path);
        let mut parts = path.splitn(2, '/');
        let (bucket, key) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
        let method = request.method();
        let body = wasmgate_guests::read_body(&request);
        let (status, text) = match store::open(bucket) {
            Err(e) => (403, format!("open: {e:?}")),
            Ok(bucket) => match method {
                Method::Get => match bucket.get(key) {
                    Ok(Some(value)) => (200, String::from_utf8_lossy(&value).into_owned()),
                    Ok(None) => (404, "<none>".to_owned()),
                    Err(e) => (500, format!("get: {e:?}")),
                },
                Method::Put => match bucket.set(key, &body) {
                    Ok(()) => (200, "ok".to_owned()),
                    Err(e) => (500, format!("set: {e:?}")),
                },
                Method::Post => match atomics::increment(&bucket, key, 1) {
                    Ok(n) => (200, n.to_string()),
                    Err(e) => (500, format!("increment: {e:?}")),
                },
                Method::Delete => match bucket.delete(key) {
                    Ok(()) => (200, "deleted".to_owned()),
                    Err(e) => (500, format!("delete: {e:?}")),
                },
                _ => (405, "method".to_owned()),
            },
        };
        wasmgate_guests::respond(
            out,
            status,
            &[("content-type", "text/plain")],
            text.as_bytes(),
        );
    }
}

fn main() {}
