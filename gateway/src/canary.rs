//! Automatic canaries: a deploy with `?canary=10%` gives the new version that share of the
//! traffic beside the version serving; after `versions.canary_window` the canary is promoted to
//! all traffic when its error rate and mean latency are no worse than the old version's by the
//! configured margins, or rolled back to the old version when they are.
//!
//! Each step is logged and shown in `GET /functions/{name}` (`canary`: state, reason and the
//! calls each side took in the window); a Prometheus family counting outcomes is not there
//! yet. Only calls
//! finished during the window count. An admin act on the function's traffic meanwhile (a deploy,
//! a rollback, a split) supersedes the canary, which then changes nothing. A canary that a
//! restart interrupts leaves its split in place: set the traffic by hand.

use crate::error::ApiError;
use crate::state::Gateway;
use crate::traffic::Weights;
use http::StatusCode;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How a canary share is written; the end of every refusal of one.
const SHARE_RULE: &str =
    "write ?canary=N% (or N) with N a whole percent from 1 to 99, e.g. ?canary=10%";

/// Calls of one version that finished, failed with a 5xx, and their total time: what a canary
/// is judged on. Updated by every call (three relaxed atomic adds, no lock).
#[derive(Debug, Default)]
pub struct VersionStats {
    calls: AtomicU64,
    errors: AtomicU64,
    micros: AtomicU64,
}

impl VersionStats {
    /// Counts one call answered with `status` after `took`.
    pub fn record(&self, status: StatusCode, took: Duration) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if status.is_server_error() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn sample(&self) -> Sample {
        Sample {
            calls: self.calls.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            micros: self.micros.load(Ordering::Relaxed),
        }
    }
}

/// A version's finished calls, 5xx answers and total microseconds over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Calls finished.
    pub calls: u64,
    /// Of which answered with a 5xx.
    pub errors: u64,
    /// Their total time, in microseconds.
    pub micros: u64,
}

impl Sample {
    /// What happened between `start` and this sample.
    pub fn since(self, start: Sample) -> Sample {
        Sample {
            calls: self.calls.saturating_sub(start.calls),
            errors: self.errors.saturating_sub(start.errors),
            micros: self.micros.saturating_sub(start.micros),
        }
    }

    fn error_rate(self) -> f64 {
        self.errors as f64 / self.calls.max(1) as f64
    }

    fn mean_micros(self) -> f64 {
        self.micros as f64 / self.calls.max(1) as f64
    }
}

/// How much worse than the old version a canary may be and still be promoted.
#[derive(Debug, Clone, Copy)]
pub struct Margins {
    /// Error rate above the old version's, absolute (0.01: one percentage point).
    pub errors: f64,
    /// Mean latency above the old version's, as a fraction (0.5: 50% slower).
    pub latency: f64,
}

/// What a canary's window decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// All traffic to the new version.
    Promote,
    /// All traffic back to the old version, for this reason.
    RollBack(String),
}

/// Judges a canary on its window: `new` must have taken calls, and be no worse than `old` by
/// `margins` in error rate and (when the old version took calls too) mean latency.
pub fn judge(old: Sample, new: Sample, margins: Margins) -> Verdict {
    if new.calls == 0 {
        return Verdict::RollBack("the canary took no calls in its window".into());
    }
    let (old_rate, new_rate) = (old.error_rate(), new.error_rate());
    if new_rate > old_rate + margins.errors {
        return Verdict::RollBack(format!(
            "error rate {:.1}% against the old version's {:.1}% (margin {:.1} points)",
            new_rate * 100.0,
            old_rate * 100.0,
            margins.errors * 100.0
        ));
    }
    let (old_mean, new_mean) = (old.mean_micros(), new.mean_micros());
    if old.calls > 0 && new_mean > old_mean * (1.0 + margins.latency) {
        return Verdict::RollBack(format!(
            "mean latency {:.1} ms against the old version's {:.1} ms (margin {:.0}%)",
            new_mean / 1e3,
            old_mean / 1e3,
            margins.latency * 100.0
        ));
    }
    Verdict::Promote
}

/// The canary share `?canary=N%` asks for, and the rest of `query` for the other parameters;
/// `400 invalid_traffic` for a share outside 1% to 99%.
pub fn share_in(query: Option<&str>) -> Result<(Option<u8>, Option<String>), ApiError> {
    let mut share = None;
    let mut rest = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "canary" {
            rest.append_pair(&name, &value);
            continue;
        }
        let n: u8 = value
            .strip_suffix('%')
            .unwrap_or(&value)
            .parse()
            .ok()
            .filter(|n| (1..=99).contains(n))
            .ok_or_else(|| ApiError::InvalidTraffic {
                reason: format!(
                    "canary={:?} is not a share: {SHARE_RULE}",
                    wasmgate_config::shown(&value)
                ),
            })?;
        share = Some(n);
    }
    let rest = rest.finish();
    Ok((share, (!rest.is_empty()).then_some(rest)))
}

/// One function's canary, as `GET /functions/{name}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The version serving before.
    pub old: u64,
    /// The canary.
    pub new: u64,
    /// The canary's share, in percent.
    pub share: u8,
    /// When it started, RFC 3339.
    pub started_at: String,
    /// The window, in seconds.
    pub window_seconds: f64,
    /// `running`, `promoted`, `rolled_back`, `superseded` or `failed`.
    pub state: &'static str,
    /// Why it was rolled back or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The old version's calls in the window, once judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old_calls: Option<Sample>,
    /// The canary's calls in the window, once judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new_calls: Option<Sample>,
}

/// The last canary of each function (on this node, since it started).
#[derive(Debug, Default)]
pub struct Canaries {
    last: Mutex<HashMap<String, Status>>,
}

impl Canaries {
    /// The last canary of `name`, running or ended.
    pub fn status(&self, name: &str) -> Option<Status> {
        self.last.lock().ok()?.get(name).cloned()
    }

    fn set(&self, name: &str, status: Status) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(name.to_owned(), status);
        }
    }

    fn end(&self, name: &str, state: &'static str, update: impl FnOnce(&mut Status)) {
        if let Ok(mut last) = self.last.lock()
            && let Some(status) = last.get_mut(name)
        {
            status.state = state;
            update(status);
        }
    }
}

/// Starts watching `name`'s canary `new` (at `share`% beside `old`, live as `weights`).
pub fn watch(gw: &Arc<Gateway>, name: &str, old: u64, new: u64, share: u8, weights: Weights) {
    let window = gw.settings.versions.canary_window.get();
    gw.canaries.set(
        name,
        Status {
            old,
            new,
            share,
            started_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
            window_seconds: window.as_secs_f64(),
            state: "running",
            reason: None,
            old_calls: None,
            new_calls: None,
        },
    );
    tracing::info!(function = %name, old, new, share, window_s = window.as_secs_f64(), "canary started");
    let (gw, name) = (gw.clone(), name.to_owned());
    tokio::spawn(async move {
        let snapshot = gw.catalog.snapshot();
        let (Some(old_d), Some(new_d)) = (snapshot.tagged(&name, old), snapshot.tagged(&name, new))
        else {
            gw.canaries.end(&name, "superseded", |_| {});
            return;
        };
        let (old_d, new_d) = (old_d.clone(), new_d.clone());
        drop(snapshot);
        let (old_start, new_start) = (old_d.stats.sample(), new_d.stats.sample());
        tokio::time::sleep(window).await;
        let old_calls = old_d.stats.sample().since(old_start);
        let new_calls = new_d.stats.sample().since(new_start);
        let margins = Margins {
            errors: gw.settings.versions.canary_error_margin,
            latency: gw.settings.versions.canary_latency_margin,
        };
        let verdict = judge(old_calls, new_calls, margins);
        let target = match &verdict {
            Verdict::Promote => new,
            Verdict::RollBack(_) => old,
        };
        let done =
            crate::admin::set_traffic_if(&gw, &name, &weights, Weights::single(target)).await;
        let (state, reason) = match (&done, verdict) {
            (Ok(false), _) => ("superseded", None),
            (Err(e), _) => ("failed", Some(e.to_string())),
            (Ok(true), Verdict::Promote) => ("promoted", None),
            (Ok(true), Verdict::RollBack(reason)) => ("rolled_back", Some(reason)),
        };
        match &reason {
            Some(reason) => {
                tracing::warn!(function = %name, old, new, state, reason = %reason, old_calls = old_calls.calls, new_calls = new_calls.calls, "canary ended")
            }
            None => {
                tracing::info!(function = %name, old, new, state, old_calls = old_calls.calls, new_calls = new_calls.calls, "canary ended")
            }
        }
        gw.canaries.end(&name, state, |s| {
            s.reason = reason;
            s.old_calls = Some(old_calls);
            s.new_calls = Some(new_calls);
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARGINS: Margins = Margins {
        errors: 0.01,
        latency: 0.5,
    };

    fn sample(calls: u64, errors: u64, mean_ms: u64) -> Sample {
        Sample {
            calls,
            errors,
            micros: calls * mean_ms * 1000,
        }
    }

    #[test]
    fn a_canary_no_worse_than_the_old_version_by_the_margins_is_promoted() {
        let old = sample(900, 9, 10);
        assert_eq!(judge(old, sample(100, 2, 14), MARGINS), Verdict::Promote);
        assert_eq!(
            judge(sample(0, 0, 0), sample(5, 0, 50), MARGINS),
            Verdict::Promote
        );
    }

    #[test]
    fn more_errors_slower_calls_or_no_calls_roll_a_canary_back() {
        let old = sample(900, 9, 10);
        for new in [sample(100, 3, 10), sample(100, 0, 16), sample(0, 0, 0)] {
            assert!(
                matches!(judge(old, new, MARGINS), Verdict::RollBack(_)),
                "{new:?}"
            );
        }
    }

    #[test]
    fn a_share_is_read_from_the_query_and_the_rest_is_kept() {
        assert_eq!(share_in(None).unwrap(), (None, None));
        assert_eq!(
            share_in(Some("canary=10%25&allow_downgrade=true")).unwrap(),
            (Some(10), Some("allow_downgrade=true".into()))
        );
        assert_eq!(share_in(Some("canary=5")).unwrap(), (Some(5), None));
        for bad in ["canary=0", "canary=100", "canary=ten", "canary="] {
            let e = share_in(Some(bad)).unwrap_err();
            assert_eq!(e.classify().1, "invalid_traffic", "{bad}");
        }
    }

    #[test]
    fn stats_count_calls_server_errors_and_time() {
        let stats = VersionStats::default();
        stats.record(StatusCode::OK, Duration::from_millis(2));
        stats.record(StatusCode::BAD_GATEWAY, Duration::from_millis(4));
        stats.record(StatusCode::NOT_FOUND, Duration::from_millis(0));
        let start = Sample::default();
        assert_eq!(
            stats.sample().since(start),
            Sample {
                calls: 3,
                errors: 1,
                micros: 6000
            }
        );
    }
}
