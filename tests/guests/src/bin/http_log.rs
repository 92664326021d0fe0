//! Proves guest output reaches the gateway's log: prints to stdout and stderr, one stderr line in
//! two pieces through a fresh `get-stderr()` handle each (as some language runtimes write),
//! `?n=N` lines more.

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
        for piece in [&b"pie"[..], b"ces of one line\n"] {
            let stderr = wasi::cli::stderr::get_stderr();
            let _ = stderr.blocking_write_and_flush(piece);
        }
        for i in 0..n {
            println!("flood {i}");
        }
        wasmgate_guests::respond(out, 200, &[("content-type", "text/plain")], b"logged\n");
    }
}

fn main() {}
