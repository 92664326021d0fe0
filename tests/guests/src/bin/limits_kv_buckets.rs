//! Proves the key-value limits: opens buckets until `open` fails, then writes a value over 1MiB
//! and a key over 1KiB; answers `opened N` and each error's text, one per line.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-kv",
        world: "kv-guest",
        generate_all,
    });
}
use bindings::wasi::keyvalue::store;

struct KvBuckets;
wasi::http::proxy::export!(KvBuckets);

/// Opens tried at most, so a host without a limit still lets the guest answer.
const MAX_TRIES: u32 = 100_000;

fn text(result: Result<(), store::Error>) -> String {
    match result {
        Ok(()) => "ok".to_owned(),
        Err(store::Error::Other(text)) => text,
        Err(other) => format!("{other:?}"),
    }
}

impl Guest for KvBuckets {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let mut open = Vec::new();
        let mut refused = Ok(());
        for i in 0..MAX_TRIES {
            match store::open(&format!("b{i}")) {
                Ok(bucket) => open.push(bucket),
                Err(e) => {
                    refused = Err(e);
                    break;
                }
            }
        }
        let mut lines = vec![format!("opened {}", open.len()), text(refused)];
        if let Some(bucket) = open.first() {
            lines.push(text(bucket.set("big", &vec![0; (1 << 20) + 1])));
            lines.push(text(bucket.set(&"k".repeat(1025), b"v")));
        }
        wasmgate_guests::respond(out, 200, &[], lines.join("\n").as_bytes());
    }
}

fn main() {}
