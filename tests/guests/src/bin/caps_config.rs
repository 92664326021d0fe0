//! Proves the `config` grant: answers `?key=K` with that value, or every key and value.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-config",
        world: "config-guest",
        generate_all,
    });
}
use bindings::wasi::config::store;

struct Config;
wasi::http::proxy::export!(Config);

impl Guest for Config {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let query = request.path_with_query().unwrap_or_default();
        let body = match query.split_once("key=") {
            Some((_, key)) => match store::get(key) {
                Ok(Some(value)) => value,
                Ok(None) => "<none>".to_owned(),
                Err(e) => format!("error: {e:?}"),
            },
            None => match store::get_all() {
                Ok(mut all) => {
                    all.sort();
                    all.iter()
                        .map(|(k, v)| format!("{k}={v}\n"))
                        .collect::<String>()
                }
                Err(e) => format!("error: {e:?}"),
            },
        };
        wasmgate_guests::respond(out, 200, &[("content-type", "text/plain")], body.as_bytes());
    }
}

fn main() {}
