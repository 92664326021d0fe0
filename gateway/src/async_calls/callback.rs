//! Delivery of a finished call to its `X-Callback-Url`.
//!
//! What goes out is the call's public view (as `GET /calls/{id}` shows it): never the request's
//! headers or body, nor the caller's secret, and a result body of at most
//! `async_calls.max_result`. Redirects are not followed: the caller named one receiver, and a
//! `3xx` from it must not bounce the result to a host nobody vetted. The destination passes the
//! same egress guard as guests' connections ([`crate::egress_client`]): loopback, private,
//! link-local and the other special ranges are refused unless `[egress] allow` opens them, on the
//! address the name resolves to when the request is sent.

use super::record::CallRecord;
use crate::state::Gateway;
use std::time::Duration;
use tracing::Instrument;

/// Time one delivery attempt may take, connecting included.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Delivery attempts before giving up; the result stays readable at `/calls/{id}` either way.
const ATTEMPTS: u32 = 3;

/// POSTs `call` to `url`, trying [`ATTEMPTS`] times; a receiver that never answers 2xx is
/// logged. A destination the egress guard refuses is logged at warn, counted in
/// `wasmgate_egress_refused_total{function,reason}` and not tried again.
pub(super) async fn deliver(gw: &Gateway, url: &str, call: &CallRecord) {
    let opened = &gw.settings.egress.allow;
    let refused = |reason: &'static str, address: &str| {
        tracing::warn!(call = %call.id, function = %call.meta.function, url, address, reason, "callback refused by the egress guard");
        gw.metrics
            .egress_refused
            .with_label_values(&[call.meta.function.as_str(), reason])
            .inc();
    };
    let parsed = match reqwest::Url::parse(url) {
        Ok(parsed) => parsed,
        Err(e) => {
            tracing::warn!(call = %call.id, error = %e, "callback URL does not parse");
            return;
        }
    };
    if let Err(refusal) = crate::egress_client::check_url(&parsed, opened) {
        refused(refusal.reason(), parsed.host_str().unwrap_or(""));
        return;
    }
    // No redirects, no proxy, a time limit per attempt, and a resolver that returns only
    // addresses the guard allows.
    let client = match crate::egress_client::client(opened, TIMEOUT) {
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
    // With tracing on, the delivery is an `http.client` span of the call's trace, whose context
    // the POST carries.
    let (span, trace_headers) = match crate::telemetry::callback_span(&parsed, &call.meta.headers) {
        Some((span, headers)) => (span, headers),
        None => (tracing::Span::none(), Vec::new()),
    };
    async {
        for attempt in 1..=ATTEMPTS {
            let mut request = client
                .post(url)
                .header(http::header::CONTENT_TYPE, "application/json");
            for (name, value) in &trace_headers {
                request = request.header(name, value);
            }
            let sent = request.body(body.clone()).send().await;
            match sent {
                Ok(r) if r.status().is_success() => return,
                Ok(r) => {
                    tracing::warn!(call = %call.id, status = %r.status(), attempt, "callback refused")
                }
                Err(e) if crate::egress_client::refusal_of(&e).is_some() => {
                    refused("address_denied", parsed.host_str().unwrap_or(""));
                    return;
                }
                Err(e) => tracing::warn!(call = %call.id, error = %e, attempt, "callback failed"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
        }
    }
    .instrument(span)
    .await;
}
