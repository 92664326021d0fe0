//! A response body that says when it is over, so the store streaming it can stop.
//!
//! A WASI 0.3 guest returns its response before writing the body: the body is a `stream<u8>` the
//! guest keeps feeding from its own task, so the store must keep running until the body is done.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::sync::oneshot;
use wasmtime_wasi_http::{Error, WasiBody};

/// `inner`, dropping `ended` once it has ended, failed or gone away (dropped unread).
pub(crate) struct WatchedBody {
    inner: WasiBody,
    /// Dropped at the end: its receiver then resolves.
    ended: Option<oneshot::Sender<()>>,
}

impl WatchedBody {
    /// Wraps `inner`; the returned receiver resolves (with an error) once the body is over.
    pub(crate) fn new(inner: WasiBody) -> (Self, oneshot::Receiver<()>) {
        let (ended, over) = oneshot::channel();
        (
            WatchedBody {
                inner,
                ended: Some(ended),
            },
            over,
        )
    }
}

impl Body for WatchedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if !matches!(frame, Some(Ok(_))) {
            self.ended.take();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
