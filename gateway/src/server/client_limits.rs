//! What one client may hold: the HTTP/1.1 builder's limits, the wait for a first byte, and the
//! answer a connection gets when the node already serves `http.max_connections`.

use crate::request_head::HYPER_BACKSTOP;
use hyper::server::conn::http1;
use hyper_util::rt::TokioTimer;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use wasmgate_config::HttpSettings;

/// Connections being refused at once; past it a refused connection is closed without an answer,
/// so a connection flood cannot make the refusals themselves pile up.
const MAX_REFUSING: usize = 256;

/// How long a refusal may take, from waiting for the request to the client's close, before the
/// connection is dropped.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a refused connection's request is awaited before the 503 is written anyway. An
/// answer that arrives before the request breaks hyper-based clients ("unexpected message"):
/// under a connection flood they saw a transport error instead of the 503 six times in ten.
const REFUSAL_REQUEST_WAIT: Duration = Duration::from_millis(250);

/// What is read and discarded of a refused client's request before closing.
const REFUSAL_DRAIN: usize = 4096;

/// The answer to a connection over `http.max_connections`: the same JSON error shape as every
/// other refusal, and `Connection: close` since nothing more will be read from it.
const REFUSAL: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\n\
content-type: application/json\r\n\
retry-after: 1\r\n\
connection: close\r\n\
content-length: 107\r\n\
\r\n\
{\"error\":{\"code\":\"too_many_connections\",\"message\":\"the gateway serves its maximum number of connections\"}}\n";

/// Largest request head hyper buffers (HTTP/1.1 read buffer, HTTP/2 header list), in bytes:
/// hyper refuses heads itself only far past the limits (with an empty 431); up to there the
/// gateway refuses them with its JSON error (`request_head`).
pub fn max_head(limits: &HttpSettings) -> u32 {
    let head = limits
        .max_header_size
        .bytes()
        .saturating_mul(HYPER_BACKSTOP);
    u32::try_from(head).unwrap_or(u32::MAX)
}

/// The HTTP/1.1 connection builder with `limits` applied (HTTP/2 is served by
/// [`super::h2_server`]).
pub fn http1_builder(limits: &HttpSettings) -> http1::Builder {
    let fields = u64::from(limits.max_headers).saturating_mul(HYPER_BACKSTOP);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.get())
        // The read buffer bounds the request line and headers together: past it, 431.
        .max_buf_size(max_head(limits) as usize)
        .max_headers(usize::try_from(fields).unwrap_or(usize::MAX));
    builder
}

/// Waits until the client has sent its first byte, for at most `timeout`; `false` if it closed
/// or stayed silent. hyper's own header timeout starts only once it knows the protocol, which
/// it learns from those bytes, so without this a silent connection would be held forever.
pub async fn first_byte(stream: &TcpStream, timeout: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(timeout, stream.peek(&mut byte)).await,
        Ok(Ok(n)) if n > 0
    )
}

/// Answers connections over the limit with a 503, at most `MAX_REFUSING` at a time.
#[derive(Clone)]
pub struct Refuser {
    refusing: Arc<Semaphore>,
}

impl Default for Refuser {
    fn default() -> Self {
        Refuser {
            refusing: Arc::new(Semaphore::new(MAX_REFUSING)),
        }
    }
}

impl Refuser {
    /// Writes the 503 to `stream` in the background once the request has begun, and closes it
    /// after reading what the client sent; drops it at once when `MAX_REFUSING` refusals are
    /// already being written.
    pub fn refuse(&self, mut stream: TcpStream) {
        let Ok(permit) = self.refusing.clone().try_acquire_owned() else {
            return;
        };
        tokio::spawn(async move {
            let write = async {
                first_byte(&stream, REFUSAL_REQUEST_WAIT).await;
                stream.write_all(REFUSAL).await?;
                stream.shutdown().await?;
                // Closing with the request unread would reset the connection, and the client
                // could lose the 503 with it; read until the client closes after the answer.
                let mut drained = 0;
                let mut buf = [0u8; 1024];
                while drained < REFUSAL_DRAIN {
                    match stream.read(&mut buf).await? {
                        0 => break,
                        n => drained += n,
                    }
                }
                Ok::<_, std::io::Error>(())
            };
            let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, write).await;
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_is_a_complete_response_with_a_json_body() {
        let text = std::str::from_utf8(REFUSAL).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(length, body.len());
        let json: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(json["error"]["code"], "too_many_connections");
        assert!(head.contains("retry-after: 1"));
    }
}
