//! A guest's response body on its way to the client, cut off at the function's size limit.

use crate::error::Error;
use crate::guest_log::InstanceLog;
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use http_body::{Body, Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::sync::oneshot;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// The body of a guest's response, streamed as the guest writes it.
///
/// Backpressure reaches the guest: its writes wait while the client reads slowly, so a body costs
/// the host a couple of chunks of memory whatever its size. The body ends with an error, never
/// cleanly, when the guest did not finish it: past the function's `max_response_body` (the guest
/// is then stopped), or when the guest trapped or ran out of time mid-stream. Headers are already
/// sent by then, so the client sees an aborted body rather than a short one it could mistake for
/// complete.
pub struct ResponseBody {
    inner: HyperOutgoingBody,
    /// Bytes passed on so far.
    sent: u64,
    /// The limit, and how to stop the guest at it; taken when used, which ends the body.
    cutoff: Option<Cutoff>,
    /// Why the guest's run failed, sent before its store (and so this body's stream) goes away.
    failed: oneshot::Receiver<Error>,
    /// What `failed` said, once [`ResponseBody::poll_guest_failed`] has read it.
    failure: Option<Error>,
    /// `failed` has resolved (with a failure, or closed because the guest finished).
    failed_seen: bool,
    log: Arc<InstanceLog>,
    done: bool,
}

/// What stopping a guest for an oversized response takes: the signal to its task, and where the
/// stop is counted.
pub(crate) struct Cutoff {
    pub(crate) limit: u64,
    pub(crate) stop: oneshot::Sender<Error>,
    pub(crate) hits: Arc<AtomicU64>,
}

impl Cutoff {
    /// Stops the guest for sending (or declaring, `declared`) more than the limit; counts and logs
    /// it, and returns the error to answer with.
    pub(crate) fn fire(self, log: &InstanceLog, declared: Option<u64>) -> Error {
        let error = Error::ResponseTooLarge { limit: self.limit };
        self.hits.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            function = log.function(),
            request_id = log.request_id(),
            limit = self.limit,
            declared,
            "response body over the function's max_response_body: guest stopped"
        );
        // The task is gone when the guest already finished; nothing is left to stop then.
        let _ = self.stop.send(error.clone());
        error
    }

    /// Answers `response` as a [`ResponseBody`], or refuses it (stopping the guest) when its
    /// declared `content-length` is over the limit. The answer to a HEAD request and a 304 carry
    /// no body, so their `content-length` (that of the resource) is not held against the limit.
    pub(crate) fn wrap(
        self,
        response: http::Response<HyperOutgoingBody>,
        head: bool,
        failed: oneshot::Receiver<Error>,
        log: Arc<InstanceLog>,
    ) -> Result<http::Response<ResponseBody>, Error> {
        let bodyless = head || response.status() == StatusCode::NOT_MODIFIED;
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .filter(|_| !bodyless)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(declared) = declared.filter(|d| *d > self.limit) {
            return Err(self.fire(&log, Some(declared)));
        }
        Ok(response.map(|inner| ResponseBody {
            inner,
            sent: 0,
            cutoff: Some(self),
            failed,
            failure: None,
            failed_seen: false,
            log,
            done: false,
        }))
    }
}

impl ResponseBody {
    /// Resolves once the guest writing this body failed or was stopped (its time limit, a trap),
    /// which the body will end with after the chunks already written. A server holding a chunk
    /// it cannot send (the client's HTTP/2 flow-control window is shut) polls this to end the
    /// stream at once instead of waiting for a window that may never open. Stays pending when
    /// the guest finished cleanly.
    pub fn poll_guest_failed(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.failure.is_some() {
            return Poll::Ready(());
        }
        if self.failed_seen {
            return Poll::Pending;
        }
        match Pin::new(&mut self.failed).poll(cx) {
            Poll::Ready(Ok(e)) => {
                self.failed_seen = true;
                self.failure = Some(e);
                Poll::Ready(())
            }
            Poll::Ready(Err(_)) => {
                self.failed_seen = true;
                Poll::Pending
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                this.done = true;
                return Poll::Ready(Some(Err(Error::NoResponse {
                    reason: format!("the guest aborted its response body: {e:?}"),
                })));
            }
            None => {
                this.done = true;
                // The stream also ends when a failed guest's store goes away; only a guest that
                // finished (or dropped) its body ends it cleanly.
                let failure = match this.failure.take() {
                    Some(e) => Some(e),
                    None if !this.failed_seen => this.failed.try_recv().ok(),
                    None => None,
                };
                return Poll::Ready(failure.map(|e| {
                    tracing::warn!(
                        function = this.log.function(),
                        request_id = this.log.request_id(),
                        error = %e,
                        "guest failed mid-response: body cut short"
                    );
                    Err(e)
                }));
            }
        };
        if let Some(data) = frame.data_ref() {
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            this.sent = this.sent.saturating_add(len);
            let sent = this.sent;
            if let Some(cutoff) = this.cutoff.take_if(|cutoff| sent > cutoff.limit) {
                this.done = true;
                return Poll::Ready(Some(Err(cutoff.fire(&this.log, None))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.done
    }

    fn size_hint(&self) -> SizeHint {
        if self.done {
            SizeHint::with_exact(0)
        } else {
            self.inner.size_hint()
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseBody")
            .field("sent", &self.sent)
            .field("limit", &self.cutoff.as_ref().map(|cutoff| cutoff.limit))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}
