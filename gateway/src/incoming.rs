//! A client's request body, whichever protocol brought it: hyper's HTTP/1.1 body, or an HTTP/2
//! stream served by the gateway's own `h2` server (see `server::h2_server`).

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The body of a request the gateway serves (`Request<Incoming>` everywhere a handler reads
/// one).
pub enum Incoming {
    /// HTTP/1.1, decoded by hyper (behind the gateway's strict framing check).
    Http1(hyper::body::Incoming),
    /// A body already read whole (at most a few KiB): a call the node tried to forward to its
    /// home and now serves itself. `None` once sent.
    Buffered(Option<Bytes>),
    /// An HTTP/2 stream's DATA and trailers.
    Http2(H2Body),
}

/// Why a request body could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum IncomingError {
    /// HTTP/1.1: the connection failed or the body's framing was invalid.
    #[error("{0}")]
    Http1(#[from] hyper::Error),
    /// HTTP/2: the client reset the stream or the connection failed.
    #[error("{0}")]
    Http2(#[from] h2::Error),
}

impl From<IncomingError> for wasmtime_wasi_http::Error {
    fn from(e: IncomingError) -> Self {
        match e {
            IncomingError::Http1(e) => wasmtime_wasi_http::Error::Hyper(e),
            // The guest sees the body end as it would on a dropped HTTP/1.1 connection.
            IncomingError::Http2(_) => wasmtime_wasi_http::Error::ConnectionTerminated,
        }
    }
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = IncomingError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, IncomingError>>> {
        match self.get_mut() {
            Incoming::Http1(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|f| f.map_err(IncomingError::from))),
            Incoming::Http2(body) => Pin::new(body).poll_frame(cx),
            Incoming::Buffered(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Incoming::Http1(body) => body.is_end_stream(),
            Incoming::Http2(body) => body.is_end_stream(),
            Incoming::Buffered(bytes) => bytes.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Incoming::Http1(body) => body.size_hint(),
            Incoming::Http2(body) => body.size_hint(),
            Incoming::Buffered(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64))
            }
        }
    }
}

/// An HTTP/2 request stream as a [`Body`]: DATA frames, then trailers. Each frame's bytes are
/// handed back to the stream's flow-control window as soon as they are passed on, so the client
/// may send more while the handler reads (RFC 9113 §5.2).
pub struct H2Body {
    recv: h2::RecvStream,
    /// What is left of the announced `content-length`, for [`Body::size_hint`].
    declared: Option<u64>,
    data_done: bool,
    done: bool,
}

impl H2Body {
    /// Wraps `recv`, whose request announced `headers`.
    pub fn new(recv: h2::RecvStream, headers: &HeaderMap) -> Self {
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let done = recv.is_end_stream();
        H2Body {
            recv,
            declared,
            data_done: done,
            done,
        }
    }
}

impl Body for H2Body {
    type Data = Bytes;
    type Error = IncomingError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, IncomingError>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        if !this.data_done {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // Giving back what was read cannot fail while the stream is open; if it is
                    // already closed there is no window left to refill.
                    let _ = this.recv.flow_control().release_capacity(data.len());
                    this.declared = this
                        .declared
                        .map(|left| left.saturating_sub(data.len() as u64));
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(e.into())));
                }
                None => this.data_done = true,
            }
        }
        let trailers: Option<HeaderMap> = match ready!(this.recv.poll_trailers(cx)) {
            Ok(trailers) => trailers,
            Err(e) => {
                this.done = true;
                return Poll::Ready(Some(Err(e.into())));
            }
        };
        this.done = true;
        Poll::Ready(trailers.map(|t| Ok(Frame::trailers(t))))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.recv.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.declared {
            Some(n) if !self.data_done => SizeHint::with_exact(n),
            _ if self.is_end_stream() => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}
