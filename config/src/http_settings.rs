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
    /// also how long an idle connection is kept: an HTTP/1.1 keep-alive connection between
    /// requests, and an HTTP/2 connection with no open stream (closed with GOAWAY).
    pub header_read_timeout: HumanDuration,
    /// Time a write to the client may make no progress (the client reads nothing, its receive
    /// window stays shut); then the connection is closed, or the HTTP/2 stream reset with
    /// `CANCEL` when only that stream's flow-control window is shut.
    pub write_timeout: HumanDuration,
    /// Age after which a connection is asked to close once its current requests finish
    /// (HTTP/1.1: `Connection: close` on the next response; HTTP/2: GOAWAY), so long-lived
    /// clients spread again over a load balancer's nodes. `"0s"`: no limit.
    pub max_connection_age: HumanDuration,
    /// HTTP/2 control frames (SETTINGS, PING, WINDOW_UPDATE, PRIORITY, RST_STREAM, empty and
    /// unknown frames) a connection may send in a burst; past it, and past the refill, the
    /// connection is closed with GOAWAY `ENHANCE_YOUR_CALM`.
    pub control_frame_burst: u32,
    /// HTTP/2 control frames a connection earns per second on top of what its requests and the
    /// data sent to it earn (see `control_frame_burst`).
    pub control_frames_per_second: u32,
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
            write_timeout: DEFAULT_WRITE_TIMEOUT,
            max_connection_age: DEFAULT_MAX_CONNECTION_AGE,
            control_frame_burst: DEFAULT_CONTROL_FRAME_BURST,
            control_frames_per_second: DEFAULT_CONTROL_FRAMES_PER_SECOND,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_request_body: DEFAULT_MAX_REQUEST_BODY,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
        }
    }
}
