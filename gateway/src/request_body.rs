//! A function's request body, capped at `http.max_request_body`.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The client's body as a guest reads it: it ends with `HttpRequestBodySize` once more than
/// `limit` bytes have come, so a client cannot stream an endless body into a function.
pub struct CappedBody<B> {
    inner: B,
    remaining: u64,
    limit: u64,
}

impl<B> CappedBody<B> {
    /// Caps `inner` at `limit` bytes.
    pub fn new(inner: B, limit: u64) -> Self {
        CappedBody {
            inner,
            remaining: limit,
            limit,
        }
    }
}

impl<B> Body for CappedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<wasmtime_wasi_http::Error>,
{
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        Poll::Ready(match frame {
            Some(Ok(frame)) => {
                let len = frame.data_ref().map_or(0, |d| d.len() as u64);
                match self.remaining.checked_sub(len) {
                    Some(left) => {
                        self.remaining = left;
                        Some(Ok(frame))
                    }
                    None => Some(Err(wasmtime_wasi_http::Error::HttpRequestBodySize(Some(
                        self.limit,
                    )))),
                }
            }
            Some(Err(e)) => Some(Err(e.into())),
            None => None,
        })
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    fn chunks(sizes: &[usize]) -> impl Body<Data = Bytes, Error = hyper::Error> + Unpin {
        let frames: Vec<Result<Frame<Bytes>, hyper::Error>> = sizes
            .iter()
            .map(|n| Ok(Frame::data(Bytes::from(vec![b'x'; *n]))))
            .collect();
        StreamBody::new(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_body_up_to_the_limit_passes_whole() {
        let body = CappedBody::new(chunks(&[3, 4, 3]), 10);
        assert_eq!(body.collect().await.unwrap().to_bytes().len(), 10);
    }

    #[tokio::test]
    async fn one_byte_past_the_limit_ends_the_body_with_its_size_error() {
        let mut body = CappedBody::new(chunks(&[6, 5]), 10);
        assert!(body.frame().await.unwrap().is_ok());
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(
            matches!(
                error,
                wasmtime_wasi_http::Error::HttpRequestBodySize(Some(10))
            ),
            "{error:?}"
        );
    }
}
