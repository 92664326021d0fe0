//! Automatic canaries: a deploy with `?canary=10%` (or a manifest's `[rollout] canary`) gives
//! the new version that share of the traffic beside the version serving; after a window (the
//! manifest's `[rollout] window`, else `versions.canary_window`) the canary is promoted to all
//! traffic when its error rate and mean latency are no worse than the old version's by the
//! margins (`[rollout]`, else `[versions]`), or rolled back to the old version when they are.
//! A canary whose manifest has a `[health]` check is also checked every `interval` and rolled
//! back at once after `failures` failures in a row.
//!
//! Each step is logged, counted in `wasmgate_canaries_total{function,outcome}` and shown in
//! `GET /functions/{name}` (`canary`: state, reason and the calls each side took in the
//! window). Only calls finished during the window count. An admin act on the function's
//! traffic meanwhile (a deploy, a rollback, a split) supersedes the canary, which then changes
//! nothing. A canary that a restart interrupts leaves its split in place: set the traffic by
//! hand.

use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::health_check::Stage;
use crate::state::Gateway;
use crate::traffic::Weights;
use http::StatusCode;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use wasmgate_config::{CANARY_SHARE_RULE, CanaryShare, HealthSection};

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
        let n = CanaryShare::parse(&value)
            .map_err(|problem| ApiError::InvalidTraffic {
                reason: format!(
                    "canary: {problem}: {CANARY_SHARE_RULE}, in a query `?canary=10%25` or `?canary=10`"
                ),
            })?
            .percent();
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

/// How one canary is run: its window and margins (the new version's `[rollout]`, else the
/// node's `[versions]`) and its health check (the new version's `[health]`).
#[derive(Debug, Clone)]
struct Plan {
    window: Duration,
    margins: Margins,
    health: HealthSection,
}

impl Plan {
    fn of(gw: &Gateway, new: &Deployed) -> Plan {
        let (rollout, node) = (&new.record.manifest.rollout, &gw.settings.versions);
        Plan {
            window: rollout.window.unwrap_or(node.canary_window).get(),
            margins: Margins {
                errors: rollout.error_margin.unwrap_or(node.canary_error_margin),
                latency: rollout.latency_margin.unwrap_or(node.canary_latency_margin),
            },
            health: new.record.manifest.health.clone(),
        }
    }
}

/// Starts watching `name`'s canary `new` (at `share`% beside `old`, live as `weights`).
pub fn watch(gw: &Arc<Gateway>, name: &str, old: u64, new: u64, share: u8, weights: Weights) {
    let snapshot = gw.catalog.snapshot();
    let versions = snapshot
        .tagged(name, old)
        .cloned()
        .zip(snapshot.tagged(name, new).cloned());
    drop(snapshot);
    let plan = versions.as_ref().map(|(_, new_d)| Plan::of(gw, new_d));
    let window = plan.as_ref().map_or(Duration::ZERO, |p| p.window);
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
    let (Some((old_d, new_d)), Some(plan)) = (versions, plan) else {
        end(gw, name, "superseded", |_| {});
        return;
    };
    tracing::info!(function = %name, old, new, share, window_s = window.as_secs_f64(), "canary started");
    let (gw, name) = (gw.clone(), name.to_owned());
    tokio::spawn(async move {
        let (old_start, new_start) = (old_d.stats.sample(), new_d.stats.sample());
        let early = match watch_window(&gw, &name, &new_d, &weights, &plan).await {
            Watched::Superseded => {
                tracing::info!(function = %name, old, new, state = "superseded", "canary ended");
                end(&gw, &name, "superseded", |_| {});
                return;
            }
            Watched::Unhealthy(reason) => Some(reason),
            Watched::Elapsed => None,
        };
        let old_calls = old_d.stats.sample().since(old_start);
        let new_calls = new_d.stats.sample().since(new_start);
        let verdict = match early {
            Some(reason) => Verdict::RollBack(reason),
            None => judge(old_calls, new_calls, plan.margins),
        };
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
        end(&gw, &name, state, |s| {
            s.reason = reason;
            s.old_calls = Some(old_calls);
            s.new_calls = Some(new_calls);
        });
    });
}

/// How a canary's window ended.
enum Watched {
    /// It ran its length: judge the numbers.
    Elapsed,
    /// Its health check failed `failures` times in a row, for this reason.
    Unhealthy(String),
    /// An admin changed the function's traffic first: nothing to decide.
    Superseded,
}

/// Waits out `plan.window`, checking the canary's health every `interval` when it has a check,
/// and whether its split `weights` is still live.
async fn watch_window(
    gw: &Gateway,
    name: &str,
    new: &Deployed,
    weights: &Weights,
    plan: &Plan,
) -> Watched {
    let until = tokio::time::Instant::now() + plan.window;
    let checked = plan.health.target().is_some();
    let step = if checked {
        plan.health.interval()
    } else {
        plan.window
    };
    let mut failed_in_a_row = 0;
    loop {
        let now = tokio::time::Instant::now();
        if now >= until {
            return Watched::Elapsed;
        }
        tokio::time::sleep(step.min(until - now)).await;
        let live = gw.registry.live(name).ok().flatten();
        if live.is_some_and(|live| live.weights != *weights) {
            return Watched::Superseded;
        }
        if !checked || tokio::time::Instant::now() >= until {
            continue;
        }
        match crate::health_check::run(gw, new, Stage::Canary).await {
            Ok(()) => failed_in_a_row = 0,
            Err(reason) => {
                failed_in_a_row += 1;
                if failed_in_a_row >= plan.health.failures() {
                    return Watched::Unhealthy(format!(
                        "health check failed {failed_in_a_row} time(s) in a row: {reason}"
                    ));
                }
            }
        }
    }
}

/// Records the end of `name`'s canary and counts it in `wasmgate_canaries_total`.
fn end(gw: &Gateway, name: &str, state: &'static str, update: impl FnOnce(&mut Status)) {
    gw.canaries.end(name, state, update);
    gw.metrics.canaries.with_label_values(&[name, state]).inc();
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
