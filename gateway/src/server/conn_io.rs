//! A client connection's bytes as the HTTP server reads and writes them, with the edge's
//! protections in between: a deadline on writes that make no progress, a check of every
//! byte the client sends (strict HTTP/1.1 request framing, or the HTTP/2 control-frame budget),
//! and a close with a TCP reset instead of a FIN when a response body that only the close could
//! end ended in error ([`Signals::reset_on_close`]), so no client takes the cut body as complete.
//!
//! Cost on the hot path: one pass of the framing check over each read (heads byte by byte, bodies
//! skipped by length), and nothing on a write that completes; the deadline's timer is armed only
//! when a write would block.

use super::h1_framing::{RequestFraming, Violation};
use super::h2_frames::{Flood, FrameScanner};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// Bytes handed to hyper in place of the rest of a request that failed the framing check: a CR
/// not followed by LF, which every state of hyper's HTTP/1.1 parser refuses (a head: 400 and
/// close; a chunked body: a body error and close), so the request ends where the check found it
/// invalid and nothing after it is ever parsed.
const POISON: &[u8] = b"\r\0";

/// What the byte layer found that ends the connection, for the connection task to act on and
/// report. The first event wins.
#[derive(Debug, Clone)]
pub enum Event {
    /// A request's framing is not what a strict RFC 9112 parser reads.
    Framing(Violation),
    /// An HTTP/2 client spent its control-frame budget.
    Flood(Flood),
    /// A write made no progress for `http.write_timeout`.
    WriteTimeout,
}

/// Where the byte layer leaves its [`Event`] and wakes the connection task.
#[derive(Debug, Default)]
pub struct Signals {
    event: Mutex<Option<Event>>,
    notify: Notify,
    /// The connection must end with a reset, not a FIN.
    reset: AtomicBool,
}

impl Signals {
    /// Records `event` unless one is already recorded, and wakes the connection task.
    fn raise(&self, event: Event) {
        if let Ok(mut slot) = self.event.lock()
            && slot.is_none()
        {
            *slot = Some(event);
        }
        self.notify.notify_one();
    }

    /// The event recorded, if any.
    pub fn event(&self) -> Option<Event> {
        self.event.lock().ok().and_then(|slot| slot.clone())
    }

    /// Resolves once an event is raised (at once if one was raised since the last call).
    pub async fn raised(&self) {
        self.notify.notified().await;
    }

    /// Asks for the connection to be closed with a TCP reset (RST) instead of a FIN: a response
    /// body whose end only the close marks (HTTP/1.0, close-delimited) ended in error, and a FIN
    /// would make the cut body look complete.
    pub fn reset_on_close(&self) {
        self.reset.store(true, Ordering::Release);
    }

    /// Whether [`Signals::reset_on_close`] was asked for.
    pub fn resets(&self) -> bool {
        self.reset.load(Ordering::Acquire)
    }
}

/// Makes closing a stream send a reset: for a TCP stream, `SO_LINGER` 0.
pub type Reset<T> = fn(&T);

/// [`Reset`] for a client's TCP connection.
pub fn reset_tcp(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_zero_linger() {
        tracing::debug!(error = %e, "cannot set SO_LINGER 0: the connection closes with a FIN");
    }
}

/// The check applied to what the client sends.
pub enum Inspector {
    /// HTTP/1.1 request framing (RFC 9112 §2.2, §6, §7.1).
    Http1(RequestFraming),
    /// HTTP/2 control frames against the connection's budget.
    Http2(FrameScanner),
}

/// Where reading stands.
enum ReadState {
    /// Bytes pass (after their check).
    Open,
    /// The framing check failed: the rest of [`POISON`] is still to be handed over, then EOF.
    Poison(&'static [u8]),
    /// Nothing more is read: EOF (HTTP/1.1) or pending forever (HTTP/2, whose connection task
    /// is closing it with GOAWAY).
    Stopped,
}

/// A connection's stream with the deadline and the check applied; see the module docs.
pub struct ConnIo<T> {
    inner: T,
    inspector: Inspector,
    read: ReadState,
    write_timeout: Duration,
    /// Armed while a write is blocked; allocated once per connection.
    stall: Pin<Box<Sleep>>,
    stalled: bool,
    signals: Arc<Signals>,
    /// How to close `inner` with a reset, when [`Signals::resets`] asks for it.
    reset: Option<Reset<T>>,
}

impl<T> ConnIo<T> {
    /// Wraps `inner`, checking reads with `inspector`, failing writes blocked for
    /// `write_timeout`, and reporting to `signals`.
    pub fn new(
        inner: T,
        inspector: Inspector,
        write_timeout: Duration,
        signals: Arc<Signals>,
    ) -> Self {
        ConnIo {
            inner,
            inspector,
            read: ReadState::Open,
            write_timeout,
            stall: Box::pin(tokio::time::sleep(write_timeout)),
            stalled: false,
            signals,
            reset: None,
        }
    }

    /// Closes `inner` with `reset` when it is dropped after [`Signals::reset_on_close`].
    #[must_use]
    pub fn with_reset(mut self, reset: Reset<T>) -> Self {
        self.reset = Some(reset);
        self
    }

    /// A blocked write: arms the deadline on the first block, fails once it passes.
    fn poll_stall<R>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<R>> {
        if !self.stalled {
            self.stalled = true;
            let deadline = Instant::now() + self.write_timeout;
            self.stall.as_mut().reset(deadline);
        }
        ready!(self.stall.as_mut().poll(cx));
        self.signals.raise(Event::WriteTimeout);
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing for http.write_timeout",
        )))
    }

    /// The inner write's answer `written`: progress disarms the deadline (and credits the
    /// HTTP/2 budget), a block arms it.
    fn watch_write(
        &mut self,
        written: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match written {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.stalled = false;
                    if let Inspector::Http2(scanner) = &mut self.inspector {
                        scanner.wrote(n);
                    }
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.poll_stall(cx),
        }
    }
}

impl<T> Drop for ConnIo<T> {
    fn drop(&mut self) {
        if let Some(reset) = self.reset
            && self.signals.resets()
        {
            reset(&self.inner);
        }
    }
}

/// Hands over as much of the poison `rest` as fits into `buf`; what is left comes on the next
/// read, then EOF.
fn poison(buf: &mut ReadBuf<'_>, rest: &'static [u8]) -> ReadState {
    let n = rest.len().min(buf.remaining());
    buf.put_slice(&rest[..n]);
    match &rest[n..] {
        [] => ReadState::Stopped,
        left => ReadState::Poison(left),
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for ConnIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.read {
            ReadState::Open => {}
            ReadState::Poison(rest) => {
                this.read = poison(buf, rest);
                return Poll::Ready(Ok(()));
            }
            ReadState::Stopped => {
                return match this.inspector {
                    Inspector::Http1(_) => Poll::Ready(Ok(())),
                    Inspector::Http2(_) => Poll::Pending,
                };
            }
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let new = &buf.filled()[before..];
        if new.is_empty() {
            return Poll::Ready(Ok(()));
        }
        match &mut this.inspector {
            Inspector::Http1(framing) => {
                if let Err(violation) = framing.inspect(new) {
                    buf.set_filled(before + violation.offset);
                    this.signals.raise(Event::Framing(violation));
                    this.read = poison(buf, POISON);
                }
            }
            Inspector::Http2(scanner) => {
                if let Err(flood) = scanner.inspect(new, std::time::Instant::now()) {
                    this.signals.raise(Event::Flood(flood));
                    this.read = ReadState::Stopped;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for ConnIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch_write(written, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch_write(written, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.poll_stall(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_shutdown(cx) {
            Poll::Ready(result) => Poll::Ready(result),
            Poll::Pending => this.poll_stall(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn http1(
        io: tokio::io::DuplexStream,
        signals: &Arc<Signals>,
    ) -> ConnIo<tokio::io::DuplexStream> {
        ConnIo::new(
            io,
            Inspector::Http1(RequestFraming::new(16 * 1024)),
            Duration::from_secs(30),
            signals.clone(),
        )
    }

    #[tokio::test]
    async fn a_valid_request_passes_unchanged() {
        let (mut client, server) = tokio::io::duplex(1024);
        let signals = Arc::new(Signals::default());
        let mut io = http1(server, &signals);
        let request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_all(request).await.unwrap();
        drop(client);
        let mut seen = Vec::new();
        io.read_to_end(&mut seen).await.unwrap();
        assert_eq!(seen, request);
        assert!(signals.event().is_none());
    }

    #[tokio::test]
    async fn a_bare_lf_in_a_trailer_ends_the_stream_there_with_the_poison() {
        let (mut client, server) = tokio::io::duplex(4096);
        let signals = Arc::new(Signals::default());
        let mut io = http1(server, &signals);
        let first =
            b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y";
        let rest = b"\n\r\nPOST /fn/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\nGET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n";
        client.write_all(first).await.unwrap();
        client.write_all(rest).await.unwrap();
        // The client keeps its side open: EOF must come from the check, not from the client.
        let mut seen = Vec::new();
        io.read_to_end(&mut seen).await.unwrap();
        let mut expected = first.to_vec();
        expected.extend_from_slice(POISON);
        assert_eq!(seen, expected);
        assert!(matches!(signals.event(), Some(Event::Framing(_))));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_client_never_reads_fails_after_the_deadline() {
        let (client, server) = tokio::io::duplex(64);
        let signals = Arc::new(Signals::default());
        let mut io = http1(server, &signals);
        let started = Instant::now();
        let error = io.write_all(&[0u8; 1024]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(30));
        assert!(matches!(signals.event(), Some(Event::WriteTimeout)));
        drop(client);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_keeps_reading_is_never_cut() {
        let (mut client, server) = tokio::io::duplex(64);
        let signals = Arc::new(Signals::default());
        let mut io = http1(server, &signals);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let mut total = 0;
            while total < 4096 {
                // Each read comes well inside the deadline; together they take far longer.
                tokio::time::sleep(Duration::from_secs(20)).await;
                total += client.read(&mut buf).await.unwrap();
            }
            total
        });
        io.write_all(&[0u8; 4096]).await.unwrap();
        assert_eq!(reader.await.unwrap(), 4096);
        assert!(signals.event().is_none());
    }
}
