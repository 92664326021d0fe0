//! Bodies the gateway reads itself (deploys, publishes, async calls): bounded in size and time;
//! and bodies it refuses, which it never invites: a client waiting for `100 Continue` is answered
//! without it, and an HTTP/2 stream is answered without reading its DATA.

use crate::error::ApiError;
use crate::incoming::Incoming;
use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Request, Version, header};
use http_body_util::BodyExt;
use std::time::Duration;

/// Bytes past the limit read and dropped before answering 413; beyond it the connection is cut.
const DISCARD_ALLOWANCE: u64 = 16 * 1024 * 1024;

/// Time spent discarding an oversized body at most.
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// How much a body may be and how long it may take to arrive.
#[derive(Clone, Copy, Debug)]
pub struct BodyLimits {
    /// Largest body in bytes; past it 413.
    pub size: u64,
    /// Where `size` comes from, named in the 413 (`max_module_size`).
    pub setting: &'static str,
    /// Time the whole body may take; past it 408.
    pub time: Duration,
}

impl BodyLimits {
    /// The 413 for a body over `size`.
    pub fn too_large(&self) -> ApiError {
        ApiError::PayloadTooLarge {
            limit: self.size,
            setting: self.setting,
        }
    }
}

/// Reads all of `body`, refusing it (413) when `head` announces or the body brings more than
/// `limits.size` bytes, and (408) when it takes longer than `limits.time`. A body announced
/// too long is refused before anything reads it.
pub async fn read(head: &Parts, body: Incoming, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.size;
    if let Some(length) = declared_length(&head.headers).filter(|length| *length > limit) {
        if length - limit <= DISCARD_ALLOWANCE {
            discard_parts(head, body).await;
        }
        return Err(limits.too_large());
    }
    match tokio::time::timeout(limits.time, collect(body, limits)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::BodyTimeout {
            seconds: limits.time.as_secs_f64(),
        }),
    }
}

/// The body length `headers` announce, if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Reads `body` whole, or refuses it once it brings more than `limits.size` bytes.
async fn collect(mut body: Incoming, limits: BodyLimits) -> Result<Bytes, ApiError> {
    let limit = limits.size;
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest {
            reason: format!("could not read the body: {e}"),
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() as u64 + data.len() as u64 > limit {
                drain(body).await;
                return Err(limits.too_large());
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// Disposes of the body of `req`, which the gateway refuses: see [`discard_parts`].
pub async fn discard(req: Request<Incoming>) {
    let (head, body) = req.into_parts();
    discard_parts(&head, body).await;
}

/// Disposes of a refused `body` (of the request `head`) before the refusal is answered, without
/// ever inviting it:
///
/// - an HTTP/1.1 client that waits for `100 Continue` (RFC 9110 §10.1.1) has sent nothing and is
///   answered at once; polling the body would make hyper send `100 Continue` and start the
///   upload. hyper then closes the connection after the answer instead of reading.
/// - an HTTP/2 stream is answered at once: dropping the body resets the stream with `NO_ERROR`
///   after the answer (RFC 9113 §8.1), so no DATA is read and the connection stays open.
/// - any other HTTP/1 body is read and dropped within bounds, so the client is reading when the
///   error arrives instead of seeing its connection reset mid-upload.
pub async fn discard_parts(head: &Parts, body: Incoming) {
    match body {
        Incoming::Http2(_) | Incoming::Buffered(_) => {}
        Incoming::Http1(_) if awaits_continue(head) => {}
        body @ Incoming::Http1(_) => drain(body).await,
    }
}

/// Whether the client waits for `100 Continue` before it sends its body (hyper honours the
/// expectation on HTTP/1.1 only).
pub fn awaits_continue(head: &Parts) -> bool {
    head.version == Version::HTTP_11
        && head
            .headers
            .get(header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Reads and drops what is left of `body`, within bounds.
async fn drain(mut body: Incoming) {
    let mut left = DISCARD_ALLOWANCE;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            let len = frame.data_ref().map_or(0, |d| d.len() as u64);
            left = left.saturating_sub(len);
            if left == 0 {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DISCARD_TIME, drain).await;
}
