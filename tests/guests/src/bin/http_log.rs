//! Proves guest output reaches the gateway's log: prints to stdout and stderr, `?n=N` lines more.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

struct Log;
wasi::http::proxy::export!(Log);

impl Guest for Log {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let n: usize = request
            .path_with_query()
            .and_then(|p| p.split_once("n=").and_then(|(_, n)| n.parse().ok()))
            .unwrap_or(0);
        println!("line one");
        print!("line ");
        println!("two");
        eprintln!("to stderr");
        for i in 0..n {
            println!("flood {i}");
        }
        wasmgate_guests::respond(out, 200, &[("content-type", "text/plain")], b"logged\n");
    }
}

fn main() {}
