//! Host-run health checks of a function version (`[health]`): a request or a message the host
//! sends the guest itself, on a new version before it takes any traffic and periodically while it
//! runs as a canary.
//!
//! ```toml
//! [health]
//! path = "/healthz"   # a GET through wasi:http/incoming-handler; healthy = a 2xx answer
//! # message = true    # or a message to wasi:messaging/incoming-handler; healthy = Ok
//! timeout = "5s"      # each check, cold start included
//! interval = "10s"    # between checks while a canary runs
//! failures = 3        # consecutive failed checks that roll a canary back
//! ```
//!
//! The interval and failure count follow Kubernetes probes' defaults (`periodSeconds: 10`,
//! `failureThreshold: 3`, <https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#configure-probes>);
//! the timeout is longer than their 1 s because the check before traffic includes the version's
//! cold start.

use crate::duration::HumanDuration;
use crate::error::{Error, Result, shown};
use crate::route::is_request_path;
use serde::{Deserialize, Serialize};
use std::ops::RangeInclusive;
use std::time::Duration;

/// Time one check may take when `timeout` is left out: 5 s.
pub const DEFAULT_HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// Longest `timeout` accepted: 60 s. A deploy waits for its check, and a check that needs longer
/// says more about the function than its health.
pub const MAX_HEALTH_TIMEOUT: Duration = Duration::from_secs(60);

/// Time between checks of a running canary when `interval` is left out: 10 s.
pub const DEFAULT_HEALTH_INTERVAL: Duration = Duration::from_secs(10);

/// Shortest `interval` accepted: 1 s, so checks stay a small share of a function's calls.
pub const MIN_HEALTH_INTERVAL: Duration = Duration::from_secs(1);

/// Consecutive failed checks that roll a running canary back when `failures` is left out: 3.
pub const DEFAULT_HEALTH_FAILURES: u32 = 3;

/// Accepted values of `failures`.
pub const HEALTH_FAILURES_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 100);

/// The `[health]` section: which check the host runs, and how often. Empty (the default): none.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthSection {
    /// A `GET` of this path (as the guest sees it under `/fn/NAME`, e.g. `/healthz`) through
    /// `wasi:http/incoming-handler`; healthy when the answer is a 2xx.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// `true`: a message to `wasi:messaging/incoming-handler` (subject
    /// `wasmgate.health.<function>`); healthy when the guest returns `Ok`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub message: bool,
    /// Time one check may take, cold start included; [`DEFAULT_HEALTH_TIMEOUT`] when left out,
    /// at most [`MAX_HEALTH_TIMEOUT`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Time between checks while the version runs as a canary; [`DEFAULT_HEALTH_INTERVAL`] when
    /// left out, at least [`MIN_HEALTH_INTERVAL`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
    /// Consecutive failed checks that roll a running canary back; [`DEFAULT_HEALTH_FAILURES`]
    /// when left out, within [`HEALTH_FAILURES_RANGE`]. The check before traffic has one try.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failures: Option<u32>,
}

/// How a health check reaches the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HealthTarget<'a> {
    /// A `GET` of this path through `wasi:http/incoming-handler`.
    Http(&'a str),
    /// A message to `wasi:messaging/incoming-handler`.
    Message,
}

impl HealthSection {
    /// The check to run, or `None` when the manifest asks for none.
    pub fn target(&self) -> Option<HealthTarget<'_>> {
        match (&self.path, self.message) {
            (Some(path), _) => Some(HealthTarget::Http(path)),
            (None, true) => Some(HealthTarget::Message),
            (None, false) => None,
        }
    }

    /// Time one check may take.
    pub fn timeout(&self) -> Duration {
        self.timeout.map_or(DEFAULT_HEALTH_TIMEOUT, |t| t.get())
    }

    /// Time between checks of a running canary.
    pub fn interval(&self) -> Duration {
        self.interval.map_or(DEFAULT_HEALTH_INTERVAL, |t| t.get())
    }

    /// Consecutive failed checks that roll a running canary back.
    pub fn failures(&self) -> u32 {
        self.failures.unwrap_or(DEFAULT_HEALTH_FAILURES)
    }

    /// Checks the section: one target at most, a request path, and the bounds of its numbers;
    /// [`Error::InvalidManifest`] naming the key and the fix.
    pub(crate) fn validate(&self) -> Result<()> {
        let invalid = |reason: String| Err(Error::InvalidManifest { reason });
        match (&self.path, self.message) {
            (Some(_), true) => {
                return invalid(
                    "health sets both `path` and `message = true`: keep one, an HTTP GET of the path or a message to the guest's incoming-handler".into(),
                );
            }
            (Some(path), false) if !is_request_path(path) => {
                return invalid(format!(
                    "health.path `{}` is not a request path: start it with `/` and use printable ASCII without spaces or `#`, e.g. `/healthz`",
                    shown(path)
                ));
            }
            (None, false) if *self != HealthSection::default() => {
                return invalid(
                    "health sets timing but names no check: add `path = \"/healthz\"` (an HTTP GET) or `message = true` (a message to the guest's incoming-handler)".into(),
                );
            }
            _ => {}
        }
        if self
            .timeout
            .is_some_and(|t| t.is_zero() || t.get() > MAX_HEALTH_TIMEOUT)
        {
            return invalid(format!(
                "health.timeout must be above zero and at most {MAX_HEALTH_TIMEOUT:?}, e.g. `{DEFAULT_HEALTH_TIMEOUT:?}`"
            ));
        }
        if self.interval.is_some_and(|t| t.get() < MIN_HEALTH_INTERVAL) {
            return invalid(format!(
                "health.interval is shorter than {MIN_HEALTH_INTERVAL:?}: space the checks out, e.g. `{DEFAULT_HEALTH_INTERVAL:?}`"
            ));
        }
        if let Some(n) = self.failures
            && !HEALTH_FAILURES_RANGE.contains(&n)
        {
            return invalid(format!(
                "health.failures {n} {}",
                crate::manifest::out_of(&HEALTH_FAILURES_RANGE)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::Manifest;

    use super::*;

    fn health(toml: &str) -> Result<HealthSection> {
        Manifest::from_toml(&format!("[health]\n{toml}")).map(|m| m.health)
    }

    #[test]
    fn a_path_or_a_message_is_the_check_and_the_rest_has_defaults() {
        let by_path = health("path = \"/healthz?deep=1\"").unwrap();
        assert_eq!(
            by_path.target(),
            Some(HealthTarget::Http("/healthz?deep=1"))
        );
        assert_eq!(by_path.timeout(), DEFAULT_HEALTH_TIMEOUT);
        assert_eq!(by_path.interval(), DEFAULT_HEALTH_INTERVAL);
        assert_eq!(by_path.failures(), DEFAULT_HEALTH_FAILURES);
        let by_message =
            health("message = true\ntimeout = \"2s\"\ninterval = \"1s\"\nfailures = 1").unwrap();
        assert_eq!(by_message.target(), Some(HealthTarget::Message));
        assert_eq!(by_message.timeout(), Duration::from_secs(2));
        assert_eq!(by_message.interval(), Duration::from_secs(1));
        assert_eq!(by_message.failures(), 1);
        assert_eq!(Manifest::default().health.target(), None);
    }

    #[test]
    fn two_targets_timing_without_a_check_and_out_of_range_numbers_are_refused_naming_the_key() {
        for (toml, says) in [
            ("path = \"/h\"\nmessage = true", "both"),
            ("path = \"healthz\"", "health.path"),
            ("path = \"/a b\"", "health.path"),
            ("path = \"/a#b\"", "health.path"),
            ("timeout = \"2s\"", "names no check"),
            ("path = \"/h\"\ntimeout = \"0s\"", "health.timeout"),
            ("path = \"/h\"\ntimeout = \"61s\"", "health.timeout"),
            ("path = \"/h\"\ninterval = \"500ms\"", "health.interval"),
            ("path = \"/h\"\nfailures = 0", "health.failures"),
            ("path = \"/h\"\nfailures = 101", "health.failures"),
            ("path = \"/h\"\nretries = 2", "unknown field"),
        ] {
            let e = health(toml).unwrap_err();
            assert_eq!(e.code(), "invalid_manifest", "{toml}");
            assert!(e.to_string().contains(says), "{toml}: {e}");
        }
    }
}
