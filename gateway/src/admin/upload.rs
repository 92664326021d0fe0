//! Reading a deploy body: a raw component, or multipart with `module` and `manifest` parts.

use crate::error::ApiError;
use bytes::{Bytes, BytesMut};
use http::{Request, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::time::Duration;

/// Multipart part holding the component.
const MODULE_PART: &str = "module";
/// Multipart part holding the TOML manifest.
const MANIFEST_PART: &str = "manifest";

/// Bytes past the limit read and dropped before answering 413; beyond it the connection is cut.
const DISCARD_ALLOWANCE: u64 = 16 * 1024 * 1024;

/// Time spent discarding an oversized body at most.
const DISCARD_TIME: Duration = Duration::from_secs(5);

/// What a deploy request carried.
#[derive(Debug)]
pub struct Upload {
    /// The component bytes.
    pub module: Bytes,
    /// The manifest text, if one was sent.
    pub manifest: Option<String>,
}

/// Reads and splits a deploy body, refusing it past `limit` bytes.
pub async fn read(req: Request<Incoming>, limit: u64) -> Result<Upload, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let multipart = match mime.as_str() {
        "application/wasm" | "application/octet-stream" => false,
        "multipart/form-data" => true,
        _ => {
            discard(req.into_body()).await;
            return Err(ApiError::UnsupportedMediaType { content_type });
        }
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        if declared.is_some_and(|len| len - limit <= DISCARD_ALLOWANCE) {
            discard(req.into_body()).await;
        }
        return Err(ApiError::PayloadTooLarge { limit });
    }
    let body = collect(req.into_body(), limit).await?;
    if !multipart {
        return Ok(Upload {
            module: body,
            manifest: None,
        });
    }
    split_multipart(&content_type, body).await
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

/// Reads and drops what is left of an oversized body, within bounds, so the client is reading
/// when the 413 arrives instead of seeing its connection reset mid-upload.
pub(crate) async fn discard(mut body: Incoming) {
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

async fn split_multipart(content_type: &str, body: Bytes) -> Result<Upload, ApiError> {
    let bad = |reason: String| ApiError::BadRequest { reason };
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| bad(format!("multipart: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<_, std::convert::Infallible>(body) });
    let mut form = multer::Multipart::new(stream, boundary);
    let (mut module, mut manifest) = (None, None);
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| bad(format!("multipart: {e}")))?
    {
        let name = field.name().unwrap_or("").to_owned();
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(format!("multipart part {name}: {e}")))?;
        match name.as_str() {
            MODULE_PART if module.is_none() => module = Some(data),
            MANIFEST_PART if manifest.is_none() => {
                let text = String::from_utf8(data.to_vec())
                    .map_err(|_| bad("the manifest part is not UTF-8 text".into()))?;
                manifest = Some(text);
            }
            MODULE_PART | MANIFEST_PART => return Err(bad(format!("part {name} sent twice"))),
            _ => {
                return Err(bad(format!(
                    "unexpected part {name:?}: send `module` and optionally `manifest`"
                )));
            }
        }
    }
    let module = module.ok_or_else(|| bad("multipart body has no `module` part".into()))?;
    Ok(Upload { module, manifest })
}
