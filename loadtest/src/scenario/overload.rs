//! `overload`: does a flood on one function leave the others alone?
//!
//! A probe calls a neighbour function at a fixed rate, open loop, first alone (`baseline`),
//! then while a [flood](crate::flood) of connections hammers a slow function (`flooded`). The
//! gateway holds up when the probe's latency stays within a bound, every refusal of the flood
//! carries `Retry-After`, and the probe is still answered after the flood. Anything else makes
//! the report carry failures, and the command exit non-zero.

use super::{Options, Prepared, Round, ScenarioKind};
use crate::client::{Client, Reply};
use crate::error::{Error, Result};
use crate::flood::{self, Flood, FloodCounts};
use crate::open_loop;
use crate::progress::Progress;
use crate::schedule::{Arrival, Schedule};
use crate::stats::{Recorder, Stats};
use crate::target::Target;
use http::Uri;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Probe requests per second unless `--probe-rate` says otherwise: steady enough for a p99
/// from a few thousand samples in 10 s, light enough to cost the gateway nothing.
pub const DEFAULT_PROBE_RATE: f64 = 200.0;

/// Flood connections unless `--flood-connections` says otherwise: ten times a function's
/// default concurrency, so most of the flood must be refused.
pub const DEFAULT_FLOOD_CONNECTIONS: usize = 1000;

/// The probe's p99 under flood unless `--max-probe-p99` says otherwise: a hundred times a warm
/// call, generous enough for a shared 2-core machine, tight enough that a gateway that queues
/// the neighbour behind the flood fails it.
pub const DEFAULT_MAX_PROBE_P99: Duration = Duration::from_millis(50);

/// Connections the probe holds, like an established client with a fixed pool: opened before
/// the flood, so a gateway at its connection limit still serves them. A request waits for a free
/// one (that wait counts as latency) rather than opening more. Taken in turn, at 200 req/s each
/// is used every 40 ms and none idles into the server's keep-alive timeout.
const PROBE_CONNECTIONS: usize = 8;

/// How long the flood runs before the probe is measured: time for every flood connection to
/// open and the slow function's queue to fill and time out once (`queue_timeout` 1 s), so the
/// probe measures a steady flood rather than its first second.
pub(super) const FLOOD_RAMP: Duration = Duration::from_secs(2);

/// How long the gateway has after the flood to answer the probe on a new connection.
const RECOVERY: Duration = Duration::from_secs(5);

/// Pause between the recovery attempts.
const RECOVERY_POLL: Duration = Duration::from_millis(100);

/// Share of the probe's requests that may fail or be dropped under flood: a neighbour function
/// should not notice the flood, but one unlucky reconnect should not fail the whole test.
const MAX_PROBE_ERROR_SHARE: f64 = 0.01;

/// What `overload` floods and the bound it asserts (`--flood-url`, `--flood-connections`,
/// `--max-probe-p99`); the probe is the `--target` (`--probe-url`).
#[derive(Clone, Debug)]
pub struct Overload {
    /// The slow function every flood connection calls (no `{name}`).
    pub flood_url: Target,
    /// Header fields every flood request carries (`--flood-header`).
    pub flood_headers: http::HeaderMap,
    /// Flood connections, each sending when answered.
    pub connections: usize,
    /// The probe's p99 under flood must stay at or below this.
    pub max_probe_p99: Duration,
}

/// What one `overload` run measured and what it found wrong.
pub(super) struct Measured {
    /// `baseline` and `flooded` (the probe), `flood` (the flood's own requests).
    pub(super) sections: Vec<(String, Stats)>,
    /// Ratios, flood counts and the bound.
    pub(super) facts: Vec<(String, f64)>,
    /// Broken promises, in words; empty when the gateway held up.
    pub(super) failures: Vec<String>,
}

/// Runs the probe alone, then under flood, then checks the gateway still answers.
pub(super) async fn run(
    options: &Options,
    endpoint: &Prepared,
    overload: &Overload,
) -> Result<Measured> {
    let round = Round {
        options,
        endpoint,
        round: 0,
    };
    let probe_uri = plain_uri(&endpoint.url)?;
    let flood_uri = plain_uri(overload.flood_url.as_str())?;
    // A typo in the flood URL would flood 404s and prove nothing. `noisy`'s spinners answer
    // 504 at their timeout by design: any answer but 404 will do there.
    let reply = endpoint
        .client
        .get_with(flood_uri.clone(), &overload.flood_headers)
        .await;
    let (answers, hint) = match options.scenario {
        ScenarioKind::Noisy => (
            !matches!(status(&reply), 0 | 404),
            "deploy the spinning function first; it must answer GET (504 at its timeout)",
        ),
        _ => (
            reply.outcome.is_ok(),
            "deploy the flood function first; it must answer GET with 2xx",
        ),
    };
    if !answers {
        return Err(Error::NotServing {
            url: flood_uri.to_string(),
            status: status(&reply),
            hint: hint.to_owned(),
        });
    }
    let schedule = match options.load {
        super::Load::Open(schedule) => schedule,
        super::Load::Closed { .. } => Schedule::Constant {
            rate: DEFAULT_PROBE_RATE,
        },
    };
    let probe = Probe::connect(probe_uri.clone(), options.timeout).await;
    let duration = options.duration();

    if !options.warmup.is_zero() {
        let recorder = Recorder::new()?;
        let _progress = round.progress(&recorder, "probe warm-up", Some(options.warmup));
        probe
            .run(options, schedule, options.warmup, &recorder)
            .await?;
    }
    let baseline = Recorder::new()?;
    {
        let _progress = round.progress(&baseline, "baseline", Some(duration));
        probe.run(options, schedule, duration, &baseline).await?;
    }

    let flood_recorder = Recorder::new()?;
    let flood = Flood {
        connections: overload.connections,
        uri: flood_uri,
        headers: overload.flood_headers.clone(),
        timeout: options.timeout,
    };
    let running = flood::start(&flood, &flood_recorder)?;
    {
        let ramp = Recorder::new()?;
        let _progress = flood_progress(&round, "flood ramp", &ramp, &flood_recorder, FLOOD_RAMP);
        probe.run(options, schedule, FLOOD_RAMP, &ramp).await?;
    }
    let flooded = Recorder::new()?;
    {
        let _progress = flood_progress(&round, "flooded", &flooded, &flood_recorder, duration);
        probe.run(options, schedule, duration, &flooded).await?;
    }
    let missing_retry_after = {
        let _progress = round.progress(&flood_recorder, "stopping the flood", None);
        running.stop().await?
    };
    let answering_after = answers_again(probe_uri, options.timeout).await;

    let (baseline, flooded, flood) = (
        baseline.snapshot(),
        flooded.snapshot(),
        flood_recorder.snapshot(),
    );
    let counts = FloodCounts::of(&flood, missing_retry_after);
    let bound = Bound {
        max_probe_p99: overload.max_probe_p99,
    };
    Ok(Measured {
        facts: facts(&baseline, &flooded, &counts, overload, answering_after),
        failures: bound.check(&flooded, &counts, answering_after),
        sections: vec![
            ("baseline".to_owned(), baseline),
            ("flooded".to_owned(), flooded),
            ("flood".to_owned(), flood),
        ],
    })
}

/// A URL without `{name}`, parsed.
fn plain_uri(url: &str) -> Result<Uri> {
    url.parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

/// The HTTP status of `reply`, `0` when there was none.
fn status(reply: &Reply) -> u16 {
    match reply.outcome {
        crate::stats::Outcome::Status(s) => s,
        _ => 0,
    }
}

/// The neighbour function's caller: a fixed pool of persistent connections, used in turn.
#[derive(Clone)]
struct Probe {
    /// The idle connections, least recently used first; one client each, and a client serves
    /// one request at a time, so it never opens a second connection.
    idle: Arc<Mutex<VecDeque<Client>>>,
    /// One permit per idle connection.
    permits: Arc<Semaphore>,
    uri: Uri,
}

impl Probe {
    /// Opens [`PROBE_CONNECTIONS`] connections to `uri` (one request each), so the probe holds
    /// them before any flood takes the gateway's connection slots.
    async fn connect(uri: Uri, timeout: Duration) -> Probe {
        let mut idle = VecDeque::with_capacity(PROBE_CONNECTIONS);
        for _ in 0..PROBE_CONNECTIONS {
            let client = Client::new(timeout);
            client.get(uri.clone()).await;
            idle.push_back(client);
        }
        Probe {
            idle: Arc::new(Mutex::new(idle)),
            permits: Arc::new(Semaphore::new(PROBE_CONNECTIONS)),
            uri,
        }
    }

    /// One request on the least recently used connection, once one is free.
    fn call(&self) -> impl Future<Output = Reply> + Send + use<> {
        let (idle, permits, uri) = (self.idle.clone(), self.permits.clone(), self.uri.clone());
        async move {
            // Never closed, so this waits for a free connection and never fails.
            let _permit = permits.acquire_owned().await;
            let take = || {
                idle.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .pop_front()
            };
            // A permit is held per client taken, so one is always idle here.
            let client = take().expect("a permit guarantees an idle connection");
            let reply = client.get(uri).await;
            idle.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push_back(client);
            reply
        }
    }

    /// The open-loop probe at `schedule` for `duration`, into `recorder`.
    async fn run(
        &self,
        options: &Options,
        schedule: Schedule,
        duration: Duration,
        recorder: &Recorder,
    ) -> Result<Duration> {
        let arrivals = schedule
            .offsets_within(duration)
            .map(|at| Arrival { at, function: 0 });
        let probe = self.clone();
        open_loop::run(
            arrivals,
            options.max_in_flight,
            move |_function| probe.call(),
            recorder,
        )
        .await
    }
}

/// A progress line for the probe under flood, with the flood's own counts.
fn flood_progress(
    round: &Round<'_>,
    what: &str,
    probe: &Recorder,
    flood: &Recorder,
    of: Duration,
) -> Progress {
    let (probe, flood) = (probe.clone(), flood.clone());
    let label = format!("{} {what}", round.label());
    let start = Instant::now();
    Progress::start(round.options.progress, move || {
        let (p, f) = (probe.counts(), flood.counts());
        format!(
            "{label}: {:.1}/{:.0} s, probe {} requests, {} errors; flood {} answers, {} refused \
             or failed",
            start.elapsed().as_secs_f64(),
            of.as_secs_f64(),
            p.requests,
            p.errors,
            f.requests,
            f.errors
        )
    })
}

/// Whether a new client gets a 2xx from `uri` within [`RECOVERY`].
async fn answers_again(uri: Uri, timeout: Duration) -> bool {
    let deadline = Instant::now() + RECOVERY;
    loop {
        // A new client each time: a new connection must be accepted, not an old one reused.
        if Client::new(timeout).get(uri.clone()).await.outcome.is_ok() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(RECOVERY_POLL).await;
    }
}

/// The figures `overload` adds to the sections: how much slower the probe got, what the flood
/// got back, and the bound.
fn facts(
    baseline: &Stats,
    flooded: &Stats,
    counts: &FloodCounts,
    overload: &Overload,
    answering_after: bool,
) -> Vec<(String, f64)> {
    let mut facts = Vec::new();
    for (name, percentile) in [("probe_p50_ratio", 50.0), ("probe_p99_ratio", 99.0)] {
        if let (Some(b), Some(a)) = (
            flooded.latency_at(percentile),
            baseline.latency_at(percentile),
        ) && !a.is_zero()
        {
            facts.push((name.to_owned(), b.as_secs_f64() / a.as_secs_f64()));
        }
    }
    let n = |v: u64| v as f64;
    facts.extend([
        (
            "max_probe_p99_ms".to_owned(),
            overload.max_probe_p99.as_secs_f64() * 1e3,
        ),
        ("flood_connections".to_owned(), overload.connections as f64),
        ("flood_ok".to_owned(), n(counts.ok)),
        ("flood_429".to_owned(), n(counts.too_many_requests)),
        ("flood_503".to_owned(), n(counts.unavailable)),
        ("flood_other_status".to_owned(), n(counts.other_status)),
        ("flood_timeout".to_owned(), n(counts.timeouts)),
        ("flood_transport".to_owned(), n(counts.transport)),
        (
            "flood_missing_retry_after".to_owned(),
            n(counts.missing_retry_after),
        ),
        (
            "answering_after".to_owned(),
            if answering_after { 1.0 } else { 0.0 },
        ),
    ]);
    facts
}

/// What the gateway must achieve under flood.
#[derive(Clone, Copy, Debug)]
struct Bound {
    max_probe_p99: Duration,
}

impl Bound {
    /// The promises broken, in words; empty when the gateway held up.
    fn check(&self, flooded: &Stats, counts: &FloodCounts, answering_after: bool) -> Vec<String> {
        let ms = |d: Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
        let mut failures = Vec::new();
        match flooded.latency_at(99.0) {
            None => failures.push(format!(
                "no probe request succeeded under flood ({} failed, {} dropped)",
                flooded.errors(),
                flooded.dropped()
            )),
            Some(p99) if p99 > self.max_probe_p99 => failures.push(format!(
                "probe p99 under flood is {}, above --max-probe-p99 {}",
                ms(p99),
                ms(self.max_probe_p99)
            )),
            Some(_) => {}
        }
        let failed = flooded.errors() + flooded.dropped();
        let due = flooded.requests() + flooded.dropped();
        if flooded.ok() > 0 && failed as f64 > MAX_PROBE_ERROR_SHARE * due as f64 {
            let by: Vec<String> = flooded
                .errors_by_outcome()
                .iter()
                .map(|(outcome, n)| format!("{outcome} x{n}"))
                .collect();
            failures.push(format!(
                "{failed} of {due} probe requests failed or were dropped under flood ({}; {} \
                 dropped), more than {:.0} %",
                by.join(", "),
                flooded.dropped(),
                MAX_PROBE_ERROR_SHARE * 100.0
            ));
        }
        if counts.missing_retry_after > 0 {
            failures.push(format!(
                "{} of {} 429/503 answers to the flood had no Retry-After",
                counts.missing_retry_after,
                counts.too_many_requests + counts.unavailable
            ));
        }
        if counts.ok + counts.too_many_requests + counts.unavailable + counts.other_status == 0 {
            failures.push(format!(
                "the flood got no HTTP answer at all ({} timeouts, {} transport errors); is \
                 `ulimit -n` high enough for --flood-connections?",
                counts.timeouts, counts.transport
            ));
        }
        if !answering_after {
            failures.push(format!(
                "the gateway did not answer the probe on a new connection within {} s after \
                 the flood",
                RECOVERY.as_secs()
            ));
        }
        failures
    }
}

#[cfg(test)]
mod tests;
