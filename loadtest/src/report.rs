//! What a test prints: a table per target (side by side when comparing, with the ratio of the
//! two), or the same figures as one JSON object with numbers, not strings.

use crate::stats::Stats;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// The result of a whole test, ready to print.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The scenario's name (`warm`, `cold`, ...).
    pub scenario: String,
    /// How the load was applied, in words (`closed loop, 32 connections, 10s per run, ...`).
    pub description: String,
    /// The measured figures of each target, the `--target` first.
    pub targets: Vec<TargetReport>,
    /// Per section, the `--target` figures divided by the `--compare` ones; empty without one.
    #[serde(serialize_with = "ordered_map", skip_serializing_if = "Vec::is_empty")]
    pub ratios: Vec<(String, Ratio)>,
    /// Bounds the run was asked to assert and did not meet, in words (`overload`); the command
    /// exits non-zero when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// The figures of one target.
#[derive(Clone, Debug, Serialize)]
pub struct TargetReport {
    /// `target` or `compare`.
    pub role: String,
    /// The URL as given.
    pub url: String,
    /// Named measurements, e.g. `requests`, or `cold` and `warm`.
    #[serde(serialize_with = "ordered_map")]
    pub sections: Vec<(String, Summary)>,
    /// Scenario-specific figures, e.g. the share of requests that hit the top 10 % of functions.
    #[serde(serialize_with = "ordered_map")]
    pub facts: Vec<(String, f64)>,
}

/// The figures of one [`Stats`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Requests answered or failed.
    pub requests: u64,
    /// Requests answered 2xx.
    pub ok: u64,
    /// Requests that failed.
    pub errors: u64,
    /// Failures by status code (`"503"`) or kind (`"timeout"`, `"connect"`, `"transport"`).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Requests due but never sent because too many were in flight.
    pub dropped: u64,
    /// How many runs (rounds) are combined.
    pub runs: u32,
    /// Wall time of those runs together, in seconds.
    pub elapsed_s: f64,
    /// Successful requests per second.
    pub throughput_rps: f64,
    /// Latency of successful requests in milliseconds; `null` when none succeeded.
    pub latency_ms: Option<Latency>,
    /// How late an open-loop generator sent requests, in milliseconds (already part of the
    /// latency); absent for other modes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_lag_ms: Option<SendLag>,
}

/// Latency percentiles in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    #[serde(rename = "p99.9")]
    pub p999: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// The open-loop generator's own lateness in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SendLag {
    /// 99th percentile.
    pub p99: f64,
    /// Worst.
    pub max: f64,
}

/// `--target` ÷ `--compare` for one section: above 1 means the target has more throughput, or
/// (for latencies) is slower. `null` where the compare figure is zero or missing.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Ratio {
    /// Throughput ratio.
    pub throughput: Option<f64>,
    /// Median latency ratio.
    pub p50: Option<f64>,
    /// 99th-percentile latency ratio.
    pub p99: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    // From whole nanoseconds, so whole microseconds print as 0.286 rather than 0.28600000000000003.
    d.as_nanos() as f64 / 1e6
}

impl Summary {
    /// The figures of `stats`.
    pub fn of(stats: &Stats) -> Summary {
        let at = |p| stats.latency_at(p).map(ms);
        let latency = match (at(50.0), at(90.0), at(99.0), at(99.9)) {
            (Some(p50), Some(p90), Some(p99), Some(p999)) => Some(Latency {
                p50,
                p90,
                p99,
                p999,
                max: stats.latency_max().map_or(0.0, ms),
                mean: stats.latency_mean().map_or(0.0, ms),
            }),
            _ => None,
        };
        let send_lag = match (stats.send_lag_at(99.0), stats.send_lag_at(100.0)) {
            (Some(p99), Some(max)) => Some(SendLag {
                p99: ms(p99),
                max: ms(max),
            }),
            _ => None,
        };
        Summary {
            requests: stats.requests(),
            ok: stats.ok(),
            errors: stats.errors(),
            errors_by_status: stats
                .errors_by_outcome()
                .iter()
                .map(|(outcome, n)| (outcome.to_string(), *n))
                .collect(),
            dropped: stats.dropped(),
            runs: stats.runs(),
            elapsed_s: stats.elapsed().as_secs_f64(),
            throughput_rps: stats.throughput(),
            latency_ms: latency,
            send_lag_ms: send_lag,
        }
    }
}

/// `a / b`, or `None` when `b` is not a positive number.
fn divide(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => Some(a / b),
        _ => None,
    }
}

impl Ratio {
    /// `target` ÷ `compare`.
    pub fn of(target: &Summary, compare: &Summary) -> Ratio {
        let p50 = |s: &Summary| s.latency_ms.map(|l| l.p50);
        let p99 = |s: &Summary| s.latency_ms.map(|l| l.p99);
        Ratio {
            throughput: divide(Some(target.throughput_rps), Some(compare.throughput_rps)),
            p50: divide(p50(target), p50(compare)),
            p99: divide(p99(target), p99(compare)),
        }
    }
}

impl Report {
    /// A report of `targets`; with two, the ratios of the first to the second, section by section.
    pub fn new(scenario: &str, description: String, targets: Vec<TargetReport>) -> Report {
        let ratios = match targets.as_slice() {
            [target, compare] => target
                .sections
                .iter()
                .filter_map(|(name, mine)| {
                    let theirs = compare.sections.iter().find(|(n, _)| n == name)?;
                    Some((name.clone(), Ratio::of(mine, &theirs.1)))
                })
                .collect(),
            _ => Vec::new(),
        };
        Report {
            scenario: scenario.to_owned(),
            description,
            targets,
            ratios,
            failures: Vec::new(),
        }
    }

    /// The report as one JSON object.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// The report as a table for people.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}: {}", self.scenario, self.description);
        for t in &self.targets {
            let _ = writeln!(out, "  {:<8} {}", t.role, t.url);
        }
        let _ = writeln!(
            out,
            "\n{:<8} {:<9} {:>9} {:>9} {:>7} {:>7} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "",
            "",
            "requests",
            "ok",
            "errors",
            "dropped",
            "req/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "p99.9 ms",
            "max ms"
        );
        for t in &self.targets {
            for (name, s) in &t.sections {
                let l = |f: fn(&Latency) -> f64| {
                    s.latency_ms
                        .map_or_else(|| "-".to_owned(), |l| format!("{:.3}", f(&l)))
                };
                let _ = writeln!(
                    out,
                    "{:<8} {:<9} {:>9} {:>9} {:>7} {:>7} {:>10.1} {:>9} {:>9} {:>9} {:>9} {:>9}",
                    t.role,
                    name,
                    s.requests,
                    s.ok,
                    s.errors,
                    s.dropped,
                    s.throughput_rps,
                    l(|l| l.p50),
                    l(|l| l.p90),
                    l(|l| l.p99),
                    l(|l| l.p999),
                    l(|l| l.max),
                );
            }
        }
        for t in &self.targets {
            for (name, s) in &t.sections {
                if !s.errors_by_status.is_empty() {
                    let errors: Vec<String> = s
                        .errors_by_status
                        .iter()
                        .map(|(status, n)| format!("{status} x{n}"))
                        .collect();
                    let _ = writeln!(out, "errors   {} {name}: {}", t.role, errors.join(", "));
                }
                if let Some(lag) = s.send_lag_ms {
                    let _ = writeln!(
                        out,
                        "send lag {} {name}: p99 {:.3} ms, max {:.3} ms (the generator's own \
                         lateness, included in the latencies)",
                        t.role, lag.p99, lag.max
                    );
                }
            }
            if !t.facts.is_empty() {
                let facts: Vec<String> = t
                    .facts
                    .iter()
                    .map(|(fact, value)| format!("{fact} {}", fmt_fact(*value)))
                    .collect();
                let _ = writeln!(out, "facts    {}: {}", t.role, facts.join(", "));
            }
        }
        if let [target, compare] = self.targets.as_slice() {
            for (name, r) in &self.ratios {
                let x = |v: Option<f64>| v.map_or_else(|| "n/a".to_owned(), |v| format!("{v:.2}x"));
                let _ = writeln!(
                    out,
                    "ratio {}/{} {name}: throughput {}, p50 {}, p99 {}",
                    target.role,
                    compare.role,
                    x(r.throughput),
                    x(r.p50),
                    x(r.p99)
                );
            }
        }
        for failure in &self.failures {
            let _ = writeln!(out, "FAILED   {failure}");
        }
        out
    }
}

/// Whole numbers without decimals, shares and milliseconds with three.
fn fmt_fact(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value:.3}")
    }
}

/// Serializes pairs as a JSON object in their order (a map type would sort or lose it).
fn ordered_map<S: Serializer, V: Serialize>(
    pairs: &[(String, V)],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_map(pairs.iter().map(|(k, v)| (k, v)))
}

#[cfg(test)]
mod tests;
