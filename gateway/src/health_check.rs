//! Host-run health checks of a function version, as its manifest's `[health]` asks: a `GET` of
//! a path or a message to the guest's incoming-handler, sent by the host itself.
//!
//! A version with a check takes no traffic until it passes once: a deploy runs it before the
//! version is recorded (a failure is `422 health_check_failed` and changes nothing), and a
//! rollback or traffic split runs it on each kept version it makes live again. While a canary
//! runs, [`crate::canary`] repeats it every `interval` and rolls the canary back after
//! `failures` failures in a row. A check is a call like any other (admission's execute policy,
//! limits, a cold start when the version is not loaded); each is counted in
//! `wasmgate_health_checks_total{function,stage,outcome}`.
//!
//! Cost: nothing on a call; one guest call per check.

use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::invoke::HostRequestFailed;
use crate::state::Gateway;
use bytes::Bytes;
use http_body_util::Empty;
use wasmgate_capabilities::messaging::Message;
use wasmgate_config::HealthTarget;

/// Subject prefix of health-check messages: the guest sees `wasmgate.health.<function>`
/// (nothing is published on the bus).
pub const SUBJECT_PREFIX: &str = "wasmgate.health.";

/// `user-agent` of a health-check request, so a guest (or its logs) can tell it from a client.
pub const USER_AGENT: &str = "wasmgate-health-check";

/// Bytes of a failing answer's body quoted in the reason.
const QUOTED_BODY: usize = 200;

/// When a check runs; the `stage` label of `wasmgate_health_checks_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Before a deploy's new version takes traffic.
    Deploy,
    /// Before a rollback or traffic split makes a kept version live again.
    Traffic,
    /// While the version runs as a canary.
    Canary,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Deploy => "deploy",
            Stage::Traffic => "traffic",
            Stage::Canary => "canary",
        }
    }
}

/// Runs `deployed`'s check, if its manifest has one, and counts the outcome; `Err` says why it
/// failed (the status and the start of the body, the guest's refusal, a trap, the timeout).
pub async fn run(gw: &Gateway, deployed: &Deployed, stage: Stage) -> Result<(), String> {
    let health = &deployed.record.manifest.health;
    let Some(target) = health.target() else {
        return Ok(());
    };
    let timeout = health.timeout();
    let checked = match tokio::time::timeout(timeout, check(gw, deployed, target)).await {
        Ok(checked) => checked,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    };
    let outcome = if checked.is_ok() { "passed" } else { "failed" };
    gw.metrics
        .health_checks
        .with_label_values(&[deployed.record.name.as_str(), stage.label(), outcome])
        .inc();
    if let Err(reason) = &checked {
        tracing::warn!(function = %deployed.record.name, version = deployed.record.version, stage = stage.label(), reason = %reason, "health check failed");
    }
    checked
}

/// Runs the check before `deployed` takes traffic; `422 health_check_failed` naming the version
/// and the reason when it fails.
pub async fn gate(gw: &Gateway, deployed: &Deployed, stage: Stage) -> Result<(), ApiError> {
    run(gw, deployed, stage)
        .await
        .map_err(|reason| ApiError::HealthCheckFailed {
            name: deployed.record.name.clone(),
            version: deployed.record.version,
            reason,
        })
}

async fn check(gw: &Gateway, deployed: &Deployed, target: HealthTarget<'_>) -> Result<(), String> {
    match target {
        HealthTarget::Http(path) => by_http(gw, deployed, path).await,
        HealthTarget::Message => by_message(gw, deployed).await,
    }
}

async fn by_http(gw: &Gateway, deployed: &Deployed, path: &str) -> Result<(), String> {
    let request = http::Request::builder()
        .method(http::Method::GET)
        .uri(format!("http://localhost{path}"))
        .header(http::header::USER_AGENT, USER_AGENT)
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("GET {path} cannot be built: {e}"))?;
    let (status, body) = crate::invoke::host_request(gw, deployed, request)
        .await
        .map_err(|failed| match failed {
            HostRequestFailed::Refused(e) => format!("refused before it ran: {e}"),
            HostRequestFailed::Failed(e) => format!("GET {path}: {e}"),
        })?;
    if status.is_success() {
        return body
            .map(|_| ())
            .map_err(|e| format!("GET {path} answered {status} but its body failed: {e}"));
    }
    let quoted = body
        .map(|bytes| {
            let end = bytes.len().min(QUOTED_BODY);
            String::from_utf8_lossy(&bytes[..end]).into_owned()
        })
        .unwrap_or_default();
    Err(format!(
        "GET {path} answered {status} (a 2xx is healthy): {}",
        quoted.trim()
    ))
}

async fn by_message(gw: &Gateway, deployed: &Deployed) -> Result<(), String> {
    let message = Message {
        subject: format!("{SUBJECT_PREFIX}{}", deployed.record.name),
        reply_to: None,
        content_type: None,
        metadata: Default::default(),
        data: Bytes::new(),
    };
    crate::triggers::attempt_once(gw, deployed, &message)
        .await
        .map_err(|failed| failed.detail)
}
