//! The flood engine: many connections, each sending its next request the moment the previous
//! one is answered, whatever the answer. It is the abusive caller of
//! `overload`: it ignores `Retry-After`, so a refusal costs the server another request at once.
//!
//! It runs in the background until stopped, while something else measures the server, and
//! checks one thing a well-behaved server owes such a caller: every `429` and `503` says when
//! to come back (`Retry-After`).
//!
//! The flood has a tokio runtime of its own. On the caller's runtime, a thousand busy workers
//! would queue the measuring tasks behind them and the generator's lateness would be blamed on
//! the server; on separate threads, the operating system's scheduler serves the mostly idle
//! measuring threads first.

mod connection;

use crate::client::Reply;
use crate::error::{Error, Result};
use crate::stats::{Outcome, Recorder, Stats};
use connection::Connection;
use http::Uri;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// Threads of the flood's runtime. One holds thousands of connections and sends as fast as a
/// small server refuses; on a machine it shares with the server (2 cores here), a second one
/// took CPU from the server and the probe (probe p50 2.6 ms with one, 16 ms with two) without
/// flooding harder (26k vs 28k answers/s). The flood stands for clients on other machines.
const FLOOD_THREADS: usize = 1;

/// The shape of a flood.
#[derive(Clone, Debug)]
pub struct Flood {
    /// Concurrent connections (HTTP/1.1), each sending its next request when answered and
    /// opened again when closed.
    pub connections: usize,
    /// What every request asks for.
    pub uri: Uri,
    /// Header fields every request carries (e.g. the credential a protected URL needs).
    pub headers: http::HeaderMap,
    /// How long one request may take before it counts as a timeout.
    pub timeout: Duration,
}

/// A flood in progress; [`Running::stop`] ends it.
#[derive(Debug)]
pub struct Running {
    stop: Arc<AtomicBool>,
    missing_retry_after: Arc<AtomicU64>,
    workers: Vec<JoinHandle<()>>,
    /// Always `Some` until [`Running::stop`] or drop shuts it down.
    runtime: Option<Runtime>,
    recorder: Recorder,
    start: Instant,
}

/// Starts `flood` in the background on a runtime of its own, recording every answer into
/// `recorder` (latency from the request's send, as in a closed loop).
pub fn start(flood: &Flood, recorder: &Recorder) -> Result<Running> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(FLOOD_THREADS)
        .thread_name("flood")
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let stop = Arc::new(AtomicBool::new(false));
    let missing_retry_after = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(flood.connections);
    for _ in 0..flood.connections.max(1) {
        let mut connection = Connection::new(&flood.uri, &flood.headers, flood.timeout)?;
        let stop = Arc::clone(&stop);
        let missing = Arc::clone(&missing_retry_after);
        let recorder = recorder.clone();
        // Spawned on the flood's runtime, so the connection's own task runs there too.
        workers.push(runtime.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let reply = connection.get().await;
                if lacks_retry_after(&reply) {
                    missing.fetch_add(1, Ordering::Relaxed);
                }
                recorder.record(
                    0,
                    reply.outcome,
                    reply.done_at.saturating_duration_since(sent),
                );
            }
        }));
    }
    Ok(Running {
        stop,
        missing_retry_after,
        workers,
        runtime: Some(runtime),
        recorder: recorder.clone(),
        start: Instant::now(),
    })
}

impl Running {
    /// `429` and `503` answers so far that had no `Retry-After`.
    pub fn missing_retry_after(&self) -> u64 {
        self.missing_retry_after.load(Ordering::Relaxed)
    }

    /// Stops sending, waits for every outstanding request to end (at most the request timeout)
    /// and closes the run; returns the `429`/`503` answers without `Retry-After`.
    pub async fn stop(mut self) -> Result<u64> {
        self.stop.store(true, Ordering::Relaxed);
        for worker in std::mem::take(&mut self.workers) {
            worker.await?;
        }
        let elapsed = self.start.elapsed();
        self.recorder.with(|stats| stats.finish_run(elapsed));
        Ok(self.missing_retry_after())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks end, which an async caller must not do.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Whether `reply` is a refusal that does not say when to come back.
fn lacks_retry_after(reply: &Reply) -> bool {
    matches!(reply.outcome, Outcome::Status(429 | 503)) && !reply.retry_after
}

/// What a flood got back, by the classes that matter under overload.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FloodCounts {
    /// Served: any 2xx.
    pub ok: u64,
    /// `429 Too Many Requests`: the function's concurrency limit and queue were full.
    pub too_many_requests: u64,
    /// `503 Service Unavailable`: the node was full (instances or connections).
    pub unavailable: u64,
    /// Any other status.
    pub other_status: u64,
    /// No complete answer within the request timeout.
    pub timeouts: u64,
    /// Connections refused or broken before an answer.
    pub transport: u64,
    /// `429`s and `503`s without `Retry-After`.
    pub missing_retry_after: u64,
}

impl FloodCounts {
    /// Classifies the outcomes in `stats`; `missing_retry_after` comes from [`Running::stop`].
    pub fn of(stats: &Stats, missing_retry_after: u64) -> FloodCounts {
        let mut counts = FloodCounts {
            ok: stats.ok(),
            missing_retry_after,
            ..FloodCounts::default()
        };
        for (outcome, n) in stats.errors_by_outcome() {
            let class = match outcome {
                Outcome::Status(429) => &mut counts.too_many_requests,
                Outcome::Status(503) => &mut counts.unavailable,
                Outcome::Status(_) => &mut counts.other_status,
                Outcome::Timeout => &mut counts.timeouts,
                Outcome::Connect | Outcome::Transport => &mut counts.transport,
            };
            *class += n;
        }
        counts
    }

    /// Every request counted.
    pub fn requests(&self) -> u64 {
        self.ok
            + self.too_many_requests
            + self.unavailable
            + self.other_status
            + self.timeouts
            + self.transport
    }
}

#[cfg(test)]
mod tests;
