//! Failed authentication: every one counted, logged at warn at a bounded rate.

use super::Audience;
use crate::log_budget::LogBudget;
use prometheus::IntCounterVec;
use std::net::SocketAddr;

/// Counts and logs refused bearer tokens.
pub struct AuthFailures {
    counter: IntCounterVec,
    /// Log lines at a bounded rate: a client guessing tokens in a loop cannot flood the log.
    log: LogBudget,
}

impl AuthFailures {
    /// Counts into `counter` (`wasmgate_auth_failures_total{audience}`).
    pub fn new(counter: IntCounterVec) -> Self {
        AuthFailures {
            counter,
            log: LogBudget::default(),
        }
    }

    /// Records one refusal of `client`'s request for `path`.
    pub fn record(&self, audience: Audience, client: Option<SocketAddr>, path: &str) {
        self.counter.with_label_values(&[audience.as_str()]).inc();
        let Some(unlogged) = self.log.admit() else {
            return;
        };
        let client = client.map(|c| c.to_string()).unwrap_or_default();
        tracing::warn!(
            audience = audience.as_str(),
            %client,
            path = %wasmgate_config::shown(path),
            unlogged_since_last = unlogged,
            "authentication failed: missing or wrong bearer token"
        );
    }
}
