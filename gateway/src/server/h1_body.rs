//! A response body as hyper's HTTP/1 server sends it, ended so that no client can take a body
//! that failed for complete.
//!
//! hyper ends the connection at once when a body fails, dropping what it had buffered: the head
//! and the first bytes of a response whose body then failed never left, and the client saw an
//! empty reply. [`H1Body`] holds the error back for one poll, so hyper flushes what it has first;
//! a client reading a `content-length` or chunked body then sees it end short. A body whose end
//! only the close marks (HTTP/1.0, or no length and no chunking) would look complete on a clean
//! close: then the connection is asked to end with a reset ([`Signals::reset_on_close`]).

use super::conn_io::Signals;
use crate::response::GatewayBody;
use bytes::Bytes;
use http::{HeaderMap, Version, header};
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The error an HTTP/1 response body ends with.
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// A response body on an HTTP/1 connection; see the module docs.
pub struct H1Body {
    inner: GatewayBody,
    signals: Arc<Signals>,
    /// Only the close marks the body's end (or the client is HTTP/1.0): an error resets.
    reset_on_error: bool,
    /// The body's error, held back for one poll.
    error: Option<BodyError>,
}

impl H1Body {
    /// Wraps `inner`, the body of a response with `headers` to a request of `version`.
    pub fn new(
        inner: GatewayBody,
        version: Version,
        headers: &HeaderMap,
        signals: Arc<Signals>,
    ) -> Self {
        H1Body {
            inner,
            signals,
            reset_on_error: close_delimited(version, headers),
            error: None,
        }
    }
}

/// Whether a response with `headers` to a request of `version` reaches the client with nothing
/// but the connection's close to mark its end. HTTP/1.0 counts whatever its headers say: such
/// clients are the ones least likely to check a length.
fn close_delimited(version: Version, headers: &HeaderMap) -> bool {
    if version < Version::HTTP_11 {
        return true;
    }
    // hyper chunks an HTTP/1.1 body of unknown length unless told another coding.
    !headers.contains_key(header::CONTENT_LENGTH)
        && headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .next_back()
            .is_some_and(|coding| {
                !coding
                    .as_bytes()
                    .trim_ascii()
                    .to_ascii_lowercase()
                    .ends_with(b"chunked")
            })
}

impl Body for H1Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Some(error) = this.error.take() {
            if this.reset_on_error {
                this.signals.reset_on_close();
            }
            return Poll::Ready(Some(Err(error)));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Err(error))) => {
                // hyper flushes what it buffered while this poll is pending, then polls again.
                this.error = Some(error);
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.error.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http10_and_unchunked_bodies_without_a_length_are_close_delimited() {
        let none = HeaderMap::new();
        let mut length = HeaderMap::new();
        length.insert(header::CONTENT_LENGTH, "5".parse().unwrap());
        let mut identity = HeaderMap::new();
        identity.insert(header::TRANSFER_ENCODING, "identity".parse().unwrap());
        let mut chunked = HeaderMap::new();
        chunked.insert(header::TRANSFER_ENCODING, "gzip, chunked".parse().unwrap());
        assert!(close_delimited(Version::HTTP_10, &none));
        assert!(close_delimited(Version::HTTP_10, &length));
        assert!(!close_delimited(Version::HTTP_11, &none));
        assert!(!close_delimited(Version::HTTP_11, &length));
        assert!(close_delimited(Version::HTTP_11, &identity));
        assert!(!close_delimited(Version::HTTP_11, &chunked));
    }
}
