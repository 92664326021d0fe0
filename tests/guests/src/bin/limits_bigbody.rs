//! Proves the response-body limit: streams an endless body as fast as the host takes it, and
//! keeps trying after the host closes the stream, so only the host can stop it. `?declare=N`
//! declares `content-length: N` first.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingResponse, ResponseOutparam};

struct BigBody;
wasi::http::proxy::export!(BigBody);

/// What each write sends.
static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];

impl Guest for BigBody {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let fields = Fields::new();
        if let Some(declared) = wasmgate_guests::query_number(&request, "declare") {
            let _ = fields.set("content-length", &[declared.to_string().into_bytes()]);
        }
        let response = OutgoingResponse::new(fields);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        let Ok(stream) = body.write() else { return };
        loop {
            match stream.check_write() {
                // The host has no room: wait for the client to read (backpressure).
                Ok(0) => stream.subscribe().block(),
                Ok(room) => {
                    let n = usize::try_from(room)
                        .unwrap_or(CHUNK.len())
                        .min(CHUNK.len());
                    let _ = stream.write(&CHUNK[..n]);
                }
                // Closed: a hostile guest ignores that and spins.
                Err(_) => std::hint::spin_loop(),
            }
        }
    }
}

fn main() {}
