//! A remote OPA server asked through its REST Data API.

use super::{Decision, PolicyInput};
use crate::error::ApiError;
use std::time::Duration;
use wasmgate_config::RemoteOpaSettings;

/// Client for `POST {url}/v1/data/wasmgate/admission`.
pub struct RemoteOpa {
    client: reqwest::Client,
    endpoint: String,
    fail_open: bool,
}

impl RemoteOpa {
    /// A client for the server in `settings`.
    pub fn new(settings: &RemoteOpaSettings) -> Result<Self, ApiError> {
        let timeout: Duration = settings.timeout.get();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ApiError::Policy {
                reason: format!("OPA client: {e}"),
            })?;
        Ok(RemoteOpa {
            client,
            endpoint: format!(
                "{}/v1/data/wasmgate/admission",
                settings.url.trim_end_matches('/')
            ),
            fail_open: settings.fail_open,
        })
    }

    /// The server's decision; when it cannot be asked, refuses (or allows, with `fail_open`).
    pub async fn decide(&self, input: &PolicyInput<'_>) -> Result<Decision, ApiError> {
        match self.ask(input).await {
            Ok(decision) => Ok(decision),
            Err(reason) if self.fail_open => {
                tracing::warn!(%reason, "OPA unavailable; allowing (fail_open)");
                Ok(Decision::allowed())
            }
            Err(reason) => Err(ApiError::PolicyUnavailable { reason }),
        }
    }

    async fn ask(&self, input: &PolicyInput<'_>) -> Result<Decision, String> {
        let response = self
            .client
            .post(&self.endpoint)
            .json(&serde_json::json!({ "input": input }))
            .send()
            .await
            .map_err(|e| format!("OPA at {}: {e}", self.endpoint))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("OPA at {} answered {status}", self.endpoint));
        }
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("OPA answer is not JSON: {e}"))?;
        Ok(super::local_policy::decision_from(body.get("result")))
    }
}
