//! Bodies the gateway reads itself (deploys, publishes, async calls): bounded in size and time.

use crate::error::ApiError;
use crate::incoming::Incoming;
use bytes::{Bytes, BytesMut};
use http::{HeaderMap, header};
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
    /// Time the whole body may take; past it 408.
    pub time: Duration,
}

/// Reads all of `body`, refusing it (413) when `headers` announce or the body brings more than
/// `limits.size` bytes, and (408) when it takes longer than `limits.time`.
pub async fn read(
    headers: &HeaderMap,
    body: Incoming,
    limits: BodyLimits,
) -> Result<Bytes, ApiError> {
    let limit = limits.size;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(length) = declared.filter(|length| *length > limit) {
        if length - limit <= DISCARD_ALLOWANCE {
            discard(body).await;
        }
        return Err(ApiError::PayloadTooLarge { limit });
    }
    match tokio::time::timeout(limits.time, collect(body, limit)).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::BodyTimeout {
            seconds: limits.time.as_secs_f64(),
        }),
    }
}

async fn collect(mut body: Incoming, limit: u64) -> Result<Bytes, ApiError> {
    let mut collected = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| ApiError::BadRequest {
            reason: format!("could not read the body: {e}"),
        })?;
        if let Ok(data) = frame.into_data() {
            if collected.len() as u64 + data.len() as u64 > limit {
                discard(body).await;
                return Err(ApiError::PayloadTooLarge { limit });
            }
            collected.extend_from_slice(&data);
        }
    }
    Ok(collected.freeze())
}

/// Reads and drops what is left of a refused body, within bounds, so the client is reading
/// when the error arrives instead of seeing its connection reset mid-upload.
pub async fn discard(mut body: Incoming) {
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
