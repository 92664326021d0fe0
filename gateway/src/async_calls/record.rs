//! One async call as stored: its metadata (the request without its body, where the call is in
//! its life, the result's status and headers), kept apart from the request and result bodies.

use crate::error::ApiError;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// First byte of every encoded [`CallMeta`], so a later layout can tell old records apart.
const META_VERSION: u8 = 1;

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Stored, waiting for or running on its function's worker.
    Queued,
    /// Answered by the guest (any status below 500).
    Done,
    /// Every attempt failed; the result holds the last answer or error.
    Failed,
}

/// Status and headers of the response (or error) a call ended with; its body is stored apart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResultHead {
    /// HTTP status of the guest's answer, or of the gateway's error.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
}

/// A stored call without its bodies: small (bounded by the request head), so reading it to
/// check a caller's secret or resume a queue never reads megabytes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallMeta {
    /// The function it calls.
    pub function: String,
    /// Request method.
    pub method: String,
    /// Path and query the guest sees.
    pub path: String,
    /// Request headers given to the guest: hop-by-hop fields, `X-Callback-Url` and credentials
    /// (`Authorization`, `Cookie`, `Proxy-Authorization`) left out.
    pub headers: Vec<(String, String)>,
    /// Where to POST the result, if anywhere.
    pub callback_url: Option<String>,
    /// Where it is in its life.
    pub state: CallState,
    /// Attempts made so far.
    pub attempts: u32,
    /// When it was accepted, seconds since the Unix epoch.
    pub created_at: u64,
    /// When it finished, seconds since the Unix epoch.
    pub finished_at: Option<u64>,
    /// Status and headers of the outcome, once finished.
    pub result: Option<ResultHead>,
    /// SHA-256 of the secret its caller got; `None` for calls stored before secrets existed,
    /// which only the admin may read.
    pub token_hash: Option<[u8; 32]>,
}

impl CallMeta {
    /// The compact stored form: a version byte, then postcard (varints, no field names).
    pub fn encode(&self) -> Result<Vec<u8>, ApiError> {
        let mut out = vec![META_VERSION];
        out.extend(postcard::to_stdvec(self).map_err(corrupt)?);
        Ok(out)
    }

    /// Reads what [`encode`](Self::encode) wrote.
    pub fn decode(bytes: &[u8]) -> Result<Self, ApiError> {
        match bytes.split_first() {
            Some((&META_VERSION, rest)) => postcard::from_bytes(rest).map_err(corrupt),
            _ => Err(corrupt("unknown record version")),
        }
    }
}

/// A call as the API shows it: its id, metadata and, once finished, its result body.
#[derive(Clone, Debug)]
pub struct CallRecord {
    /// Its id (`X-Call-Id`).
    pub id: String,
    /// Everything but the bodies.
    pub meta: CallMeta,
    /// The result's body, once finished.
    pub result_body: Option<Bytes>,
}

fn corrupt(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: format!("async calls: malformed call record: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_in_a_few_bytes_and_unknown_versions_are_refused() {
        let meta = CallMeta {
            function: "echo".into(),
            method: "POST".into(),
            path: "/orders/7?x=1".into(),
            headers: vec![("content-type".into(), "text/plain".into())],
            callback_url: None,
            state: CallState::Done,
            attempts: 1,
            created_at: 1_700_000_000,
            finished_at: Some(1_700_000_001),
            result: Some(ResultHead {
                status: 200,
                headers: Vec::new(),
            }),
            token_hash: Some([7; 32]),
        };
        let bytes = meta.encode().unwrap();
        assert!(bytes.len() < 110, "{} bytes", bytes.len());
        assert_eq!(CallMeta::decode(&bytes).unwrap(), meta);
        assert!(CallMeta::decode(&[9, 1, 2]).is_err());
        assert!(CallMeta::decode(&[]).is_err());
    }
}
