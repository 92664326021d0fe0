//! What a run measured: a latency histogram of the successful requests, counts of failures by
//! status, requests the generator could not send, wall time, and hits per function.

use crate::error::Result;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// The largest latency the histograms hold, in microseconds (one hour); longer ones are
/// recorded as one hour rather than lost.
const MAX_MICROS: u64 = 3_600_000_000;

/// Three significant digits: 0.1 % error at every magnitude, which is below the noise of any
/// network measurement and keeps a histogram at a few tens of KiB.
const SIGNIFICANT_DIGITS: u8 = 3;

/// How one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// The server answered with this HTTP status; 2xx counts as success, anything else as an error.
    Status(u16),
    /// No complete answer within the request timeout.
    Timeout,
    /// The connection could not be established.
    Connect,
    /// The connection broke while sending or receiving.
    Transport,
}

impl Outcome {
    /// Whether this is a success (a 2xx status).
    pub fn is_ok(self) -> bool {
        matches!(self, Outcome::Status(s) if (200..300).contains(&s))
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Status(s) => write!(f, "{s}"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Connect => f.write_str("connect"),
            Outcome::Transport => f.write_str("transport"),
        }
    }
}

/// The measurements of one or more runs against one target.
///
/// Only successful requests enter the latency histogram: a server that sheds load with fast
/// 503s must not look faster for it. Failures are counted by [`Outcome`] instead.
#[derive(Clone, Debug)]
pub struct Stats {
    latency: Histogram<u64>,
    send_lag: Histogram<u64>,
    ok: u64,
    errors: BTreeMap<Outcome, u64>,
    dropped: u64,
    elapsed: Duration,
    runs: u32,
    hits: Vec<u64>,
}

impl Stats {
    /// Empty statistics.
    pub fn new() -> Result<Stats> {
        let histogram = || Histogram::new_with_bounds(1, MAX_MICROS, SIGNIFICANT_DIGITS);
        Ok(Stats {
            latency: histogram()?,
            send_lag: histogram()?,
            ok: 0,
            errors: BTreeMap::new(),
            dropped: 0,
            elapsed: Duration::ZERO,
            runs: 0,
            hits: Vec::new(),
        })
    }

    /// Records one request to `function` that ended with `outcome` after `latency`.
    pub fn record(&mut self, function: usize, outcome: Outcome, latency: Duration) {
        if self.hits.len() <= function {
            self.hits.resize(function + 1, 0);
        }
        self.hits[function] += 1;
        if outcome.is_ok() {
            self.ok += 1;
            self.latency.saturating_record(micros(latency));
        } else {
            *self.errors.entry(outcome).or_default() += 1;
        }
    }

    /// Records how late the generator itself sent an open-loop request (already included in
    /// its latency; reported so that a slow generator is visible and not blamed on the server).
    pub fn record_send_lag(&mut self, lag: Duration) {
        self.send_lag.saturating_record(micros(lag));
    }

    /// Records a request that was due but not sent because too many were already in flight.
    pub fn record_dropped(&mut self) {
        self.dropped += 1;
    }

    /// Closes a run that took `elapsed` of wall time.
    pub fn finish_run(&mut self, elapsed: Duration) {
        self.elapsed += elapsed;
        self.runs += 1;
    }

    /// Adds `other` (e.g. another round against the same target) to these statistics.
    pub fn merge(&mut self, other: &Stats) -> Result<()> {
        self.latency.add(&other.latency)?;
        self.send_lag.add(&other.send_lag)?;
        self.ok += other.ok;
        for (outcome, n) in &other.errors {
            *self.errors.entry(*outcome).or_default() += n;
        }
        self.dropped += other.dropped;
        self.elapsed += other.elapsed;
        self.runs += other.runs;
        if self.hits.len() < other.hits.len() {
            self.hits.resize(other.hits.len(), 0);
        }
        for (mine, theirs) in self.hits.iter_mut().zip(&other.hits) {
            *mine += theirs;
        }
        Ok(())
    }

    /// Requests that got an answer or failed (not counting dropped ones).
    pub fn requests(&self) -> u64 {
        self.ok + self.errors()
    }

    /// Requests answered with a 2xx status.
    pub fn ok(&self) -> u64 {
        self.ok
    }

    /// Requests that failed, whatever the reason.
    pub fn errors(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Failed requests by how they failed.
    pub fn errors_by_outcome(&self) -> &BTreeMap<Outcome, u64> {
        &self.errors
    }

    /// Requests that were due but never sent (open loop at its in-flight bound).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Wall time of all runs together.
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// How many runs these statistics combine.
    pub fn runs(&self) -> u32 {
        self.runs
    }

    /// Successful requests per second of wall time; 0 before any time has passed.
    pub fn throughput(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.ok as f64 / secs
        } else {
            0.0
        }
    }

    /// The latency at `percentile` (0–100) of the successful requests; `None` when there were none.
    pub fn latency_at(&self, percentile: f64) -> Option<Duration> {
        (!self.latency.is_empty())
            .then(|| Duration::from_micros(self.latency.value_at_percentile(percentile)))
    }

    /// The slowest successful request.
    pub fn latency_max(&self) -> Option<Duration> {
        (!self.latency.is_empty()).then(|| Duration::from_micros(self.latency.max()))
    }

    /// The mean latency of the successful requests.
    pub fn latency_mean(&self) -> Option<Duration> {
        (!self.latency.is_empty()).then(|| Duration::from_secs_f64(self.latency.mean() / 1e6))
    }

    /// The send lag at `percentile`; `None` unless this was an open-loop run.
    pub fn send_lag_at(&self, percentile: f64) -> Option<Duration> {
        (!self.send_lag.is_empty())
            .then(|| Duration::from_micros(self.send_lag.value_at_percentile(percentile)))
    }

    /// How many requests went to each function, by function index.
    pub fn hits(&self) -> &[u64] {
        &self.hits
    }

    /// The share (0–1) of all requests that went to the `k` most requested functions.
    pub fn share_of_top(&self, k: usize) -> f64 {
        let total: u64 = self.hits.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let mut sorted = self.hits.clone();
        sorted.sort_unstable_by(|a, b| b.cmp(a));
        sorted.iter().take(k).sum::<u64>() as f64 / total as f64
    }
}

/// Microseconds for the histogram; at least 1, since its lowest bucket starts there.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// Progress counters of a run in progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Requests that got an answer or failed.
    pub requests: u64,
    /// Failed requests.
    pub errors: u64,
    /// Requests that could not be sent.
    pub dropped: u64,
}

/// [`Stats`] shared by the tasks of a running test and read by the progress line.
///
/// A mutex rather than per-task histograms merged at the end, because the open loop has one task
/// per request; holding it for one histogram increment costs far less than the HTTP round trip.
#[derive(Clone, Debug)]
pub struct Recorder(Arc<Mutex<Stats>>);

impl Recorder {
    /// A recorder holding empty statistics.
    pub fn new() -> Result<Recorder> {
        Ok(Recorder(Arc::new(Mutex::new(Stats::new()?))))
    }

    /// Runs `f` on the statistics. A panic elsewhere while holding the lock leaves them
    /// consistent (every update is a few additions), so a poisoned lock is used as is.
    pub fn with<R>(&self, f: impl FnOnce(&mut Stats) -> R) -> R {
        let mut stats = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut stats)
    }

    /// See [`Stats::record`].
    pub fn record(&self, function: usize, outcome: Outcome, latency: Duration) {
        self.with(|s| s.record(function, outcome, latency));
    }

    /// The counters for a progress line.
    pub fn counts(&self) -> Counts {
        self.with(|s| Counts {
            requests: s.requests(),
            errors: s.errors(),
            dropped: s.dropped(),
        })
    }

    /// A copy of the statistics so far.
    pub fn snapshot(&self) -> Stats {
        self.with(|s| s.clone())
    }
}

#[cfg(test)]
mod tests;
