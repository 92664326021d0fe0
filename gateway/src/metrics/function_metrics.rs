//! One deployed function's request metrics, resolved to atomic handles on first use.

use super::Metrics;
use http::StatusCode;
use prometheus::{Histogram, IntCounter};
use std::sync::OnceLock;
use std::time::Duration;

/// Statuses the gateway and typical guests answer with, each with a pre-resolved counter; others
/// go through the (locking) label lookup.
const COMMON_STATUSES: [u16; 20] = [
    200, 201, 202, 204, 301, 302, 304, 400, 401, 403, 404, 405, 409, 413, 422, 429, 500, 502, 503,
    504,
];

/// A function's request counters and latency histogram; empty until its first request, so idle
/// functions cost no series.
#[derive(Default)]
pub struct FunctionMetrics {
    duration: OnceLock<Histogram>,
    statuses: [OnceLock<IntCounter>; COMMON_STATUSES.len()],
}

impl FunctionMetrics {
    /// Records one request of `function` answered with `status` after `took`.
    pub fn observe(&self, metrics: &Metrics, function: &str, status: StatusCode, took: Duration) {
        self.duration
            .get_or_init(|| metrics.request_duration.with_label_values(&[function]))
            .observe(took.as_secs_f64());
        let code = status.as_u16();
        match COMMON_STATUSES.iter().position(|s| *s == code) {
            Some(i) => self.statuses[i]
                .get_or_init(|| {
                    metrics
                        .requests
                        .with_label_values(&[function, status.as_str()])
                })
                .inc(),
            None => metrics
                .requests
                .with_label_values(&[function, status.as_str()])
                .inc(),
        }
    }
}

impl std::fmt::Debug for FunctionMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionMetrics").finish_non_exhaustive()
    }
}
