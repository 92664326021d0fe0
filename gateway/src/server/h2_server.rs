//! HTTP/2 served on the `h2` crate directly.
//!
//! hyper's server hides what the edge needs: it keeps a connection with no open stream forever,
//! it waits for flow-control window before it reads a response body again (so a stream whose
//! reader keeps its window at 0 is never ended, even after its guest is stopped), and it cannot
//! close a connection with a chosen GOAWAY code. Driving `h2` here gives the connection task
//! the open-stream count (idle close), each stream's `SendStream` (RST_STREAM on a stopped guest
//! or a stalled window) and `abrupt_shutdown` (GOAWAY `ENHANCE_YOUR_CALM` on a control-frame
//! flood). HTTP/1.1 stays on hyper.

use super::conn_io::{ConnIo, Event, Signals};
use super::connection::{ConnCtx, Outcome};
use crate::auth::ClientAddr;
use crate::dispatch::dispatch;
use crate::incoming::{H2Body, Incoming};
use crate::response::{GatewayBody, GatewayResponse};
use bytes::Bytes;
use futures::future::poll_fn;
use h2::Reason;
use h2::server::SendResponse;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, header};
use http_body::Body;
use http_body_util::Either;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

/// Each stream's receive window: hyper's server default (1 MiB), so uploads run at full speed
/// without a round trip per 64 KiB.
const STREAM_WINDOW: u32 = 1024 * 1024;

/// The connection's receive window: as hyper's server default.
const CONNECTION_WINDOW: u32 = 1024 * 1024;

/// Response bytes `h2` may buffer per stream beyond what the window lets through: the gateway
/// only hands it what the window allows, so this bounds a single oversized send.
const SEND_BUFFER: usize = 64 * 1024;

/// Streams the gateway itself may reset on one connection before `h2` closes it: hyper's
/// default (the MadeYouReset bound, CVE-2025-8671).
const MAX_LOCAL_ERROR_RESETS: usize = 1024;

/// How long a connection closed for a flood may take to write its GOAWAY before it is dropped.
const FLOOD_CLOSE_GRACE: Duration = Duration::from_secs(1);

/// How long a graceful close (idle, too old, draining) with no stream left may take before the
/// connection is dropped: `h2` completes it only once the client answers its PING (RFC 9113
/// §6.8), so a client that answers nothing would otherwise keep an "idle-closed" connection
/// forever. 5 s leaves a real client on a loaded node (or a slow network) time for the PING's
/// round trip, which 1 s did not under the parallel test suite.
const GRACEFUL_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Open streams of a connection, and a wake-up for its task when one ends.
#[derive(Default)]
struct Streams {
    open: AtomicUsize,
    ended: Notify,
}

/// One stream's hold on [`Streams::open`].
struct StreamGuard(Arc<Streams>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.ended.notify_one();
    }
}

/// Serves HTTP/2 on `io` (whose client sent the connection preface) until the client leaves or
/// the connection is closed: idle for `http.header_read_timeout`, older than
/// `http.max_connection_age`, a drain, or an event of the byte layer. Returns why it ended.
pub async fn serve<T>(io: ConnIo<T>, signals: Arc<Signals>, ctx: &ConnCtx) -> Outcome
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = &ctx.gw.settings.http;
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(ctx.max_head)
        .max_send_buffer_size(SEND_BUFFER)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS));
    let idle = limits.header_read_timeout.get();
    let mut conn = match tokio::time::timeout(idle, builder.handshake::<_, Bytes>(io)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return outcome_of(&e, &signals),
        Err(_) => return Outcome::Idle,
    };
    let streams = Arc::new(Streams::default());
    let mut idle_since = Instant::now();
    let age_deadline = ctx.age_deadline();
    let mut stop = ctx.stop.clone();
    let mut closing: Option<Outcome> = None;
    let mut drop_deadline: Option<Instant> = None;
    loop {
        let idle_now = streams.open.load(Ordering::Acquire) == 0;
        let open = closing.is_none();
        let graceful = tokio::select! {
            biased;
            () = signals.raised(), if open => {
                if let Some(Event::Flood(flood)) = signals.event() {
                    conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                    closing = Some(Outcome::Flood(flood));
                    drop_deadline = Some(Instant::now() + FLOOD_CLOSE_GRACE);
                }
                None
            }
            () = sleep_until(drop_deadline.unwrap_or_else(Instant::now)), if drop_deadline.is_some() => {
                // A graceful close waits for streams opened before the GOAWAY to finish.
                if streams.open.load(Ordering::Acquire) == 0
                    || matches!(closing, Some(Outcome::Flood(_)))
                {
                    return closing.unwrap_or(Outcome::ClientClosed);
                }
                drop_deadline = None;
                None
            }
            accepted = conn.accept() => match accepted {
                Some(Ok((request, respond))) => {
                    streams.open.fetch_add(1, Ordering::AcqRel);
                    let guard = StreamGuard(streams.clone());
                    let gw = ctx.gw.clone();
                    let peer = ctx.peer;
                    let write_timeout = limits.write_timeout.get();
                    tokio::spawn(async move {
                        serve_stream(gw, peer, request, respond, write_timeout).await;
                        drop(guard);
                    });
                    None
                }
                Some(Err(e)) => return closing.unwrap_or_else(|| outcome_of(&e, &signals)),
                None => return closing.unwrap_or(Outcome::ClientClosed),
            },
            () = streams.ended.notified() => {
                if streams.open.load(Ordering::Acquire) == 0 {
                    idle_since = Instant::now();
                    if closing.is_some() && drop_deadline.is_none() {
                        drop_deadline = Some(Instant::now() + GRACEFUL_CLOSE_GRACE);
                    }
                }
                None
            }
            () = sleep_until(idle_since + idle), if open && idle_now => Some(Outcome::Idle),
            () = sleep_until(age_deadline.unwrap_or_else(Instant::now)), if open && age_deadline.is_some() => {
                Some(Outcome::MaxAge)
            }
            _ = stop.wait_for(|stopping| *stopping), if open => Some(Outcome::Drained),
        };
        // Idle, too old or draining: GOAWAY, and the streams already opened may finish.
        if let Some(outcome) = graceful {
            conn.graceful_shutdown();
            closing = Some(outcome);
            drop_deadline = Some(Instant::now() + GRACEFUL_CLOSE_GRACE);
        }
    }
}

/// Why `h2` ended a connection with `e`.
fn outcome_of(e: &h2::Error, signals: &Signals) -> Outcome {
    if let Some(Event::WriteTimeout) = signals.event() {
        return Outcome::WriteTimeout;
    }
    if e.is_go_away() && e.is_library() {
        // h2 found the client at fault: Rapid Reset, CONTINUATION flood, a protocol error.
        return Outcome::ProtocolError(e.to_string());
    }
    if e.is_io() || e.is_remote() || e.is_go_away() {
        return Outcome::ClientClosed;
    }
    Outcome::ProtocolError(e.to_string())
}

/// One request: the gateway's dispatch, cancelled if the client resets the stream, then the
/// response piped under flow control.
async fn serve_stream(
    gw: Arc<crate::state::Gateway>,
    peer: std::net::SocketAddr,
    request: Request<h2::RecvStream>,
    mut respond: SendResponse<Bytes>,
    write_timeout: Duration,
) {
    let (mut parts, recv) = request.into_parts();
    let body = Incoming::Http2(H2Body::new(recv, &parts.headers));
    parts.extensions.insert(ClientAddr(peer));
    let head_only = parts.method == Method::HEAD;
    let call = dispatch(gw.clone(), Request::from_parts(parts, body));
    tokio::pin!(call);
    let response: GatewayResponse = tokio::select! {
        response = &mut call => match response {
            Ok(response) => response,
            Err(never) => match never {},
        },
        // The client gave up on the stream: dropping the call stops the guest.
        _ = poll_fn(|cx| respond.poll_reset(cx)) => return,
    };
    let (mut head, body) = response.into_parts();
    prepare_headers(&mut head.headers, &body);
    // The body must be exactly as long as announced (RFC 9113 §8.1.1); a response with no
    // content cannot have one (RFC 9110 §6.4.1).
    let bodyless = head.status == http::StatusCode::NO_CONTENT
        || head.status == http::StatusCode::NOT_MODIFIED;
    let declared = head
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let end = head_only || bodyless || body.is_end_stream();
    let Ok(send) = respond.send_response(Response::from_parts(head, ()), end) else {
        return;
    };
    if !end {
        let reset = pipe(body, send, declared, write_timeout).await;
        if let Some(reason) = reset {
            gw.metrics
                .http2_streams_reset
                .with_label_values(&[reason])
                .inc();
        }
    }
}

/// Removes what HTTP/2 forbids in a response (connection-specific fields, RFC 9113 §8.2.2),
/// adds `content-length` when the body's size is known (to a HEAD request too: the size the
/// body would have) and `date` (RFC 9110 §6.6.1), as hyper does for HTTP/1.1.
fn prepare_headers(headers: &mut HeaderMap, body: &GatewayBody) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        HeaderName::from_static("keep-alive"),
        HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    if headers.get(header::TE).is_some_and(|te| te != "trailers") {
        headers.remove(header::TE);
    }
    if !headers.contains_key(header::CONTENT_LENGTH)
        && let Some(exact) = body.size_hint().exact()
    {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(exact));
    }
    if !headers.contains_key(header::DATE) {
        headers.insert(header::DATE, super::date::now());
    }
}

/// What ends a response stream early.
enum Step {
    /// The window opened (by any amount, 0 included: look again).
    Capacity,
    /// The client reset the stream, or the connection is gone.
    Gone,
    /// The guest failed or was stopped while a chunk waited for the window.
    GuestFailed,
    /// The window stayed shut for `http.write_timeout`.
    Stalled,
}

/// Sends `body` on `send`, never more than the client's window allows, so a stalled reader
/// costs one chunk. Ends the stream with RST_STREAM at once when the guest fails or is stopped
/// (`INTERNAL_ERROR`), whether or not the window is open, and when the window stays shut for
/// `write_timeout` (`CANCEL`). Returns the reset's reason label, if the stream was reset.
async fn pipe(
    mut body: GatewayBody,
    mut send: h2::SendStream<Bytes>,
    declared: Option<u64>,
    write_timeout: Duration,
) -> Option<&'static str> {
    let stall = tokio::time::sleep(write_timeout);
    tokio::pin!(stall);
    let mut sent: u64 = 0;
    // A body longer or shorter than its `content-length` would be a malformed response:
    // the stream is reset instead.
    let short = |sent: u64| declared.is_some_and(|declared| sent != declared);
    loop {
        // The next frame, unless the client resets the stream first.
        let frame = poll_fn(|cx| {
            if send.poll_reset(cx).is_ready() {
                return Poll::Ready(None);
            }
            Pin::new(&mut body).poll_frame(cx).map(Some)
        })
        .await;
        let frame = match frame {
            None => return None,
            Some(None) => {
                if short(sent) {
                    send.send_reset(Reason::INTERNAL_ERROR);
                    return Some("length_mismatch");
                }
                let _ = send.send_data(Bytes::new(), true);
                return None;
            }
            Some(Some(Err(e))) => {
                send.send_reset(Reason::INTERNAL_ERROR);
                // The guest's body checks its own length before this function's check sees it.
                let mismatch = e
                    .downcast_ref::<wasmgate_pool::Error>()
                    .is_some_and(|e| matches!(e, wasmgate_pool::Error::ResponseLength { .. }));
                return Some(if mismatch {
                    "length_mismatch"
                } else {
                    "body_error"
                });
            }
            Some(Some(Ok(frame))) => frame,
        };
        let mut chunk = match frame.into_data() {
            Ok(chunk) => chunk,
            Err(frame) => {
                if short(sent) {
                    send.send_reset(Reason::INTERNAL_ERROR);
                    return Some("length_mismatch");
                }
                if let Ok(trailers) = frame.into_trailers() {
                    let _ = send.send_trailers(trailers);
                } else {
                    let _ = send.send_data(Bytes::new(), true);
                }
                return None;
            }
        };
        let end = body.is_end_stream();
        sent = sent.saturating_add(chunk.len() as u64);
        if declared.is_some_and(|declared| sent > declared) || (end && short(sent)) {
            send.send_reset(Reason::INTERNAL_ERROR);
            return Some("length_mismatch");
        }
        if chunk.is_empty() && !end {
            continue;
        }
        send.reserve_capacity(chunk.len());
        stall.as_mut().reset(Instant::now() + write_timeout);
        loop {
            let capacity = send.capacity();
            if capacity > 0 || chunk.is_empty() {
                let part = chunk.split_to(capacity.min(chunk.len()));
                let last = chunk.is_empty() && end;
                if send.send_data(part, last).is_err() {
                    return None;
                }
                if chunk.is_empty() {
                    break;
                }
                send.reserve_capacity(chunk.len());
                stall.as_mut().reset(Instant::now() + write_timeout);
                continue;
            }
            let step = poll_fn(|cx| poll_step(&mut send, &mut body, stall.as_mut(), cx)).await;
            match step {
                Step::Capacity => {}
                Step::Gone => return None,
                Step::GuestFailed => {
                    send.send_reset(Reason::INTERNAL_ERROR);
                    return Some("guest_failed");
                }
                Step::Stalled => {
                    send.send_reset(Reason::CANCEL);
                    return Some("write_timeout");
                }
            }
        }
        if end {
            return None;
        }
    }
}

/// Waits for window, a reset, the guest's failure, or the stall deadline.
fn poll_step(
    send: &mut h2::SendStream<Bytes>,
    body: &mut GatewayBody,
    stall: Pin<&mut tokio::time::Sleep>,
    cx: &mut Context<'_>,
) -> Poll<Step> {
    if send.poll_reset(cx).is_ready() {
        return Poll::Ready(Step::Gone);
    }
    if let Either::Left(guest) = body
        && guest.poll_guest_failed(cx).is_ready()
    {
        return Poll::Ready(Step::GuestFailed);
    }
    if stall.poll(cx).is_ready() {
        return Poll::Ready(Step::Stalled);
    }
    match send.poll_capacity(cx) {
        Poll::Ready(Some(Ok(_))) => Poll::Ready(Step::Capacity),
        Poll::Ready(Some(Err(_)) | None) => Poll::Ready(Step::Gone),
        Poll::Pending => Poll::Pending,
    }
}
