//! Proves the `keyvalue` grant: `/{bucket}/{key}` — GET reads, PUT writes the body, POST increments
//! by 1 and answers the new value, DELETE removes. `/{bucket}/?fill=N` writes `k00000`.. (N keys,
//! one batch), `/{bucket}/?drop=A-B` deletes `kA`..`kB` (one batch), and `/{bucket}/?list` or
//! `?list=CURSOR` answers one page of `list-keys`: the next cursor (`-` on the last page), then
//! one key per line.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-kv",
        world: "kv-guest",
        generate_all,
    });
}
use bindings::wasi::keyvalue::{atomics, batch, store};

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
            Ok(bucket) if key.starts_with('?') => bulk(&bucket, &key[1..]),
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

/// Key number `i` of a fill.
fn numbered(i: u64) -> String {
    format!("k{i:05}")
}

/// The `?fill=`, `?drop=` and `?list` operations.
fn bulk(bucket: &store::Bucket, query: &str) -> (u16, String) {
    let (op, arg) = query.split_once('=').unwrap_or((query, ""));
    match op {
        "fill" => {
            let n: u64 = arg.parse().unwrap_or(0);
            let entries: Vec<(String, Vec<u8>)> =
                (0..n).map(|i| (numbered(i), b"v".to_vec())).collect();
            match batch::set_many(bucket, &entries) {
                Ok(()) => (200, format!("filled {n}")),
                Err(e) => (500, format!("set-many: {e:?}")),
            }
        }
        "drop" => {
            let (from, to) = arg.split_once('-').unwrap_or(("0", "0"));
            let (from, to): (u64, u64) = (from.parse().unwrap_or(0), to.parse().unwrap_or(0));
            let keys: Vec<String> = (from..=to).map(numbered).collect();
            match batch::delete_many(bucket, &keys) {
                Ok(()) => (200, format!("dropped {}", keys.len())),
                Err(e) => (500, format!("delete-many: {e:?}")),
            }
        }
        "list" => match bucket.list_keys(arg.parse().ok()) {
            Ok(page) => {
                let cursor = page.cursor.map_or("-".to_owned(), |c| c.to_string());
                (200, format!("{cursor}\n{}", page.keys.join("\n")))
            }
            Err(e) => (500, format!("list-keys: {e:?}")),
        },
        _ => (400, format!("unknown operation {op:?}")),
    }
}

fn main() {}
