//! A guest's outgoing request body as hyper sends it: once hyper lets go of it before the guest
//! ended it, the rest is drained in the background instead of dropped.
//!
//! A server may answer before it has read the request body and close the connection (a `GET`
//! whose empty body the guest has not finished yet is enough: `wasi:http` learns that a body is
//! empty only from `outgoing-body.finish`). hyper then drops the body, and the guest's next
//! write to it fails, which guest libraries report as a bare "connection reset" although the
//! answer is there to read. Draining instead lets the guest's writes succeed and the guest read
//! the response, as it would had it written a moment earlier. The guest's own writes bound the
//! drain: it ends when the guest finishes or drops the body, or when its call ends.

use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll};

/// `B`, drained in the background when dropped before its end.
pub(super) struct GuestRequestBody<B>
where
    B: Body + Send + Unpin + 'static,
{
    inner: Option<B>,
    ended: bool,
}

impl<B> GuestRequestBody<B>
where
    B: Body + Send + Unpin + 'static,
{
    pub(super) fn new(inner: B) -> Self {
        GuestRequestBody {
            inner: Some(inner),
            ended: false,
        }
    }
}

impl<B> Body for GuestRequestBody<B>
where
    B: Body + Send + Unpin + 'static,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            this.ended = true;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B> Drop for GuestRequestBody<B>
where
    B: Body + Send + Unpin + 'static,
{
    fn drop(&mut self) {
        let Some(mut body) = self.inner.take() else {
            return;
        };
        if self.ended || body.is_end_stream() {
            return;
        }
        // Outside a runtime (never on the gateway's paths) there is nothing to drain on: the
        // body is dropped as before.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                while let Some(Ok(_)) = http_body_util::BodyExt::frame(&mut body).await {}
            });
        }
    }
}

#[cfg(test)]
mod tests;
