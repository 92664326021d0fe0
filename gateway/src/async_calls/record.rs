//! One async call as stored: the request, where it is in its life, and its result.

use serde::{Deserialize, Serialize};

/// Where a call is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallState {
    /// Stored, waiting for its function's worker.
    Queued,
    /// Answered by the guest (any status below 500).
    Done,
    /// Every attempt failed; `result` holds the last answer or error.
    Failed,
}

/// The response (or error) a call ended with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallResult {
    /// HTTP status of the guest's answer, or of the gateway's error.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body as text (lossy UTF-8).
    pub body: String,
}

/// A stored async call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Its id (`X-Call-Id`).
    pub id: String,
    /// The function it calls.
    pub function: String,
    /// Request method.
    pub method: String,
    /// Path and query the guest sees.
    pub path: String,
    /// Request headers (hop-by-hop and `X-Callback-Url` left out).
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: Vec<u8>,
    /// Where to POST the result, if anywhere.
    pub callback_url: Option<String>,
    /// Where it is in its life.
    pub state: CallState,
    /// Attempts made so far.
    pub attempts: u32,
    /// The outcome, once finished.
    pub result: Option<CallResult>,
    /// When it was accepted, seconds since the Unix epoch.
    pub created_at: u64,
    /// When it finished, seconds since the Unix epoch.
    pub finished_at: Option<u64>,
}
