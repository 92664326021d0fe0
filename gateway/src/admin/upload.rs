//! Reading a deploy body: a raw component, multipart with `module` and `manifest` parts, or JSON
//! naming a component in an OCI registry (`{"oci": "oci://...", "digest": ..., "manifest": ...}`).

use crate::client_body::{self, BodyLimits};
use crate::error::ApiError;
use crate::incoming::Incoming;
use bytes::Bytes;
use http::{Request, header};

/// Multipart part holding the component.
const MODULE_PART: &str = "module";
/// Multipart part holding the TOML manifest.
const MANIFEST_PART: &str = "manifest";

/// What a deploy request carried.
#[derive(Debug)]
pub struct Upload {
    /// The component bytes.
    pub module: Bytes,
    /// The manifest text, if one was sent.
    pub manifest: Option<String>,
}

/// Longest JSON deploy body: a reference, a digest and a manifest's text.
const MAX_JSON_BODY: u64 = 256 << 10;

/// A deploy body that names a component in a registry instead of carrying it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OciSource {
    /// `oci://REGISTRY/REPOSITORY:TAG` (or `@sha256:...`).
    pub oci: String,
    /// `sha256:HEX` the component must have (a pin on a tag that may move).
    pub digest: Option<String>,
    /// The manifest's TOML text, as the multipart `manifest` part.
    pub manifest: Option<String>,
}

/// What a deploy body holds.
#[derive(Debug)]
pub enum Body {
    /// The component itself.
    Upload(Upload),
    /// Where to pull it from.
    Oci(OciSource),
}

/// Reads and splits a deploy body within `limits` (a JSON body within [`MAX_JSON_BODY`]).
pub async fn read(req: Request<Incoming>, limits: BodyLimits) -> Result<Body, ApiError> {
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
        "application/json" => return read_json(req, limits).await.map(Body::Oci),
        _ => {
            client_body::discard(req).await;
            return Err(ApiError::UnsupportedMediaType { content_type });
        }
    };
    let (parts, body) = req.into_parts();
    let body = client_body::read(&parts, body, limits).await?;
    if !multipart {
        return Ok(Body::Upload(Upload {
            module: body,
            manifest: None,
        }));
    }
    split_multipart(&content_type, body).await.map(Body::Upload)
}

/// Reads a JSON deploy body naming an OCI reference.
async fn read_json(req: Request<Incoming>, limits: BodyLimits) -> Result<OciSource, ApiError> {
    let limits = if limits.size > MAX_JSON_BODY {
        BodyLimits {
            size: MAX_JSON_BODY,
            setting: "the limit of a JSON deploy body",
            ..limits
        }
    } else {
        limits
    };
    let (parts, body) = req.into_parts();
    let body = client_body::read(&parts, body, limits).await?;
    serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
        reason: format!(
            "the JSON deploy body does not parse ({e}): send {{\"oci\": \"oci://REGISTRY/REPOSITORY:TAG\"}}, optionally with \"digest\": \"sha256:...\" and \"manifest\": \"TOML text\""
        ),
    })
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
