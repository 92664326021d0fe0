//! Failed authentication: every one counted, logged at warn at a bounded rate.

use super::Audience;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use prometheus::IntCounterVec;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Failure log lines per second, and the burst allowed above it: enough to see who is trying,
/// few enough that a client guessing tokens in a loop cannot flood the log (each line ~200 bytes).
const LOG_LINES_PER_SECOND: NonZeroU32 = NonZeroU32::new(5).expect("non-zero");
/// See [`LOG_LINES_PER_SECOND`].
const LOG_BURST: NonZeroU32 = NonZeroU32::new(20).expect("non-zero");

/// Counts and logs refused bearer tokens.
pub struct AuthFailures {
    counter: IntCounterVec,
    limiter: DefaultDirectRateLimiter,
    /// Failures not logged since the last line that was: the next line reports them.
    unlogged: AtomicU64,
}

impl AuthFailures {
    /// Counts into `counter` (`wasmgate_auth_failures_total{audience}`).
    pub fn new(counter: IntCounterVec) -> Self {
        AuthFailures {
            counter,
            limiter: RateLimiter::direct(
                Quota::per_second(LOG_LINES_PER_SECOND).allow_burst(LOG_BURST),
            ),
            unlogged: AtomicU64::new(0),
        }
    }

    /// Records one refusal of `client`'s request for `path`.
    pub fn record(&self, audience: Audience, client: Option<SocketAddr>, path: &str) {
        self.counter.with_label_values(&[audience.as_str()]).inc();
        if self.limiter.check().is_err() {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let unlogged = self.unlogged.swap(0, Ordering::Relaxed);
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
