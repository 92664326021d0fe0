//! Delivery of a finished call to its `X-Callback-Url`.
//!
//! What goes out is the call's public view (as `GET /calls/{id}` shows it): never the request's
//! headers or body, nor the caller's secret, and a result body of at most
//! `async_calls.max_result`. Redirects are not followed: the caller named one receiver, and a
//! `3xx` from it must not bounce the result to a host nobody vetted.

use super::record::CallRecord;
use std::time::Duration;

/// Time one delivery attempt may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Delivery attempts before giving up; the result stays readable at `/calls/{id}` either way.
const ATTEMPTS: u32 = 3;

/// The client callbacks are sent with: no redirects, a time limit per attempt. The egress
/// guard that vets the destination belongs here, so every callback goes through it.
fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .build()
}

/// POSTs `call` to `url`, trying [`ATTEMPTS`] times; a receiver that never answers 2xx is
/// logged.
pub(super) async fn deliver(url: &str, call: &CallRecord) {
    let client = match client() {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!(call = %call.id, error = %e, "cannot build the callback client");
            return;
        }
    };
    let rendered = call.clone();
    let body = match tokio::task::spawn_blocking(move || super::http::render(&rendered)).await {
        Ok(body) => bytes::Bytes::from(body),
        Err(e) => {
            tracing::warn!(call = %call.id, error = %e, "cannot render the callback body");
            return;
        }
    };
    for attempt in 1..=ATTEMPTS {
        let sent = client
            .post(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => {
                tracing::warn!(call = %call.id, status = %r.status(), attempt, "callback refused")
            }
            Err(e) => tracing::warn!(call = %call.id, error = %e, attempt, "callback failed"),
        }
        if attempt < ATTEMPTS {
            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
        }
    }
}
