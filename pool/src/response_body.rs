//! A guest's response body on its way to the client, cut off at the function's size limit and
//! held to its `content-length`.

use crate::error::Error;
use crate::guest_log::InstanceLog;
use crate::reuse::BodyEnd;
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_LENGTH;
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use tokio::sync::oneshot;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// Largest `content-length` whose body is held back with the head until the guest has finished
/// it (`ResponseBody::settle`): a guest that writes more or less than it announced is then
/// answered with an error response instead of a cut one.
pub const HELD_BODY: u64 = 64 * 1024;

/// Called once when a response body ends: with the failure when it ended in error (or was
/// dropped after its guest failed), with `None` when it ended cleanly or the server stopped
/// reading it (the client went away, or all of its `content-length` was sent).
pub type EndHook = Box<dyn FnOnce(Option<&Error>) + Send + Sync>;

/// The body of a guest's response, streamed as the guest writes it.
///
/// Backpressure reaches the guest: its writes wait while the client reads slowly, so a body costs
/// the host a couple of chunks of memory whatever its size. The body ends with an error, never
/// cleanly, when the guest did not finish it: past the function's `max_response_body` (the guest
/// is then stopped), when the guest trapped or ran out of time mid-stream, or when it wrote more
/// or less than its `content-length` (the bytes past it are never passed on). Headers are already
/// sent by then, so the client sees an aborted body rather than a short one it could mistake for
/// complete. Every such end is logged with the function and the request id.
pub struct ResponseBody {
    inner: HyperOutgoingBody,
    /// Bytes passed on so far.
    sent: u64,
    /// The `content-length` the guest set, unless the response carries no body.
    declared: Option<u64>,
    /// Frames read ahead by [`ResponseBody::settle`], passed on before anything else.
    held: VecDeque<Frame<Bytes>>,
    /// Told once how the body ended; see [`EndHook`].
    on_end: Option<EndHook>,
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
    /// With instance reuse: how the body tells its call it ended cleanly, and learns that the
    /// instance was kept.
    end: Option<BodyEnd>,
    /// Waiting, at the clean end, until the call has kept (or dropped) the instance.
    parking: Option<oneshot::Receiver<()>>,
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
            request_id = &*log.request_id(),
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
            declared,
            held: VecDeque::new(),
            on_end: None,
            cutoff: Some(self),
            failed,
            failure: None,
            failed_seen: false,
            log,
            done: false,
            end: None,
            parking: None,
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

impl ResponseBody {
    /// Ties the body's clean end to its call (instance reuse): at that end it says so and waits
    /// until the instance is kept, before the end goes to the client.
    pub(crate) fn hand_back(&mut self, end: BodyEnd) {
        self.end = Some(end);
    }

    /// Sets what is told how the body ended (once; a second call replaces the first).
    pub fn on_end(&mut self, hook: EndHook) {
        self.on_end = Some(hook);
    }

    /// Reads the whole body ahead when its `content-length` is at most [`HELD_BODY`], so the
    /// head is sent only once the guest has written exactly that much and finished: a guest that
    /// fails first, or writes more or less, fails the call here (the server answers an error
    /// instead of a cut response). Other bodies are left to stream.
    pub(crate) async fn settle(&mut self) -> Result<(), Error> {
        if self.declared.is_none_or(|declared| declared > HELD_BODY) {
            return Ok(());
        }
        while let Some(frame) = poll_fn(|cx| self.poll_guest(cx)).await {
            self.held.push_back(frame?);
        }
        Ok(())
    }

    /// The guest's next frame, checked against the limit and the `content-length`; every error
    /// end is logged here.
    fn poll_guest(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        if let Some(parked) = &mut self.parking {
            // Kept or dropped, the end is the same; only its moment waits.
            let _ = ready!(Pin::new(parked).poll(cx));
            self.parking = None;
            return Poll::Ready(None);
        }
        if self.done {
            return Poll::Ready(None);
        }
        let short = self.declared.filter(|declared| *declared != self.sent);
        let frame = match ready!(Pin::new(&mut self.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            Some(Err(e)) => {
                let error = match short {
                    // wasmtime aborts a body finished at the wrong length.
                    Some(declared) => Error::ResponseLength {
                        declared,
                        written: self.sent,
                    },
                    None => Error::NoResponse {
                        reason: format!("the guest aborted its response body: {e:?}"),
                    },
                };
                return Poll::Ready(Some(Err(self.fail(error))));
            }
            None => {
                // The stream also ends when a failed guest's store goes away; only a guest that
                // finished (or dropped) its body ends it cleanly.
                let failure = match self.failure.take() {
                    Some(e) => Some(e),
                    None if !self.failed_seen => self.failed.try_recv().ok(),
                    None => None,
                };
                let failure = failure.or_else(|| {
                    short.map(|declared| Error::ResponseLength {
                        declared,
                        written: self.sent,
                    })
                });
                self.done = true;
                if failure.is_none()
                    && let Some(end) = self.end.take()
                    && end.complete.send(()).is_ok()
                {
                    self.parking = Some(end.parked);
                    return self.poll_guest(cx);
                }
                return Poll::Ready(failure.map(|e| Err(self.fail(e))));
            }
        };
        if let Some(data) = frame.data_ref() {
            let len = u64::try_from(data.len()).unwrap_or(u64::MAX);
            let sent = self.sent.saturating_add(len);
            if let Some(declared) = self.declared.filter(|declared| sent > *declared) {
                // Nothing past the announced length is passed on.
                let error = Error::ResponseLength {
                    declared,
                    written: sent,
                };
                return Poll::Ready(Some(Err(self.fail(error))));
            }
            self.sent = sent;
            if let Some(cutoff) = self.cutoff.take_if(|cutoff| sent > cutoff.limit) {
                self.done = true;
                self.end = None;
                return Poll::Ready(Some(Err(cutoff.fire(&self.log, None))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    /// Ends the body with `error`, logged with the function and the request id.
    fn fail(&mut self, error: Error) -> Error {
        self.done = true;
        // Not a whole response: its instance is not kept.
        self.end = None;
        tracing::warn!(
            function = self.log.function(),
            request_id = &*self.log.request_id(),
            error = %error,
            sent = self.sent,
            "guest response body ended in error: the client sees it cut, not complete"
        );
        error
    }

    /// Tells the end hook, if it was not told yet.
    fn ended(&mut self, failure: Option<&Error>) {
        if let Some(hook) = self.on_end.take() {
            hook(failure);
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        let failure = self.failure.take();
        // The server stops reading once all of a `content-length` is sent: that is a whole
        // response too.
        if failure.is_none()
            && self.held.is_empty()
            && self.declared.is_some_and(|declared| declared == self.sent)
            && let Some(end) = self.end.take()
        {
            let _ = end.complete.send(());
        }
        self.ended(failure.as_ref());
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
        if let Some(frame) = this.held.pop_front() {
            return Poll::Ready(Some(Ok(frame)));
        }
        let next = ready!(this.poll_guest(cx));
        match &next {
            None => this.ended(None),
            Some(Err(e)) => this.ended(Some(e)),
            Some(Ok(_)) => {}
        }
        Poll::Ready(next)
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.held.is_empty() && self.parking.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        let held: u64 = self
            .held
            .iter()
            .filter_map(|frame| frame.data_ref())
            .map(|data| data.len() as u64)
            .sum();
        if self.done {
            SizeHint::with_exact(held)
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
