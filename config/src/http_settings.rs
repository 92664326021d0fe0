//! Per-client limits of the HTTP server (`[http]`): what one connection may send and hold.

use crate::byte_size::ByteSize;
use crate::defaults::*;
use crate::duration::HumanDuration;
use serde::Deserialize;

/// How much one client may send and for how long it may hold a connection (`[http]`).
///
/// They bound what a slow or hostile client can make the node hold: open connections, buffered
/// headers, buffered bodies and idle sockets.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Connections served at once; past it a new connection gets `503` with `Retry-After` and
    /// is closed.
    pub max_connections: u32,
    /// Largest request head (request line and headers together); past it `431`.
    pub max_header_size: ByteSize,
    /// Most header fields in one request; past it `431`.
    pub max_headers: u32,
    /// Time a client has to send a complete request head, counted from the connection's first
    /// byte wait or the end of its previous request; then the connection is closed. It is
    /// also how long an idle keep-alive connection is kept.
    pub header_read_timeout: HumanDuration,
    /// Time a client has to send a body the gateway reads itself (deploys, publishes, async
    /// calls); then `408`. A function's own body reads are bounded by its `timeout`.
    pub body_read_timeout: HumanDuration,
    /// Largest request body a function is given; a larger declared length gets `413` before
    /// the guest runs, a longer streamed body ends with an error in the guest.
    pub max_request_body: ByteSize,
    /// HTTP/2 streams one connection may have open at once.
    pub max_concurrent_streams: u32,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_header_size: DEFAULT_MAX_HEADER_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}
