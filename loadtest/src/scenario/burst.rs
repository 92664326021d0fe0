//! `burst`: nothing, then many requests at once — a spike on an idle function, which must load
//! once and queue the rest briefly rather than fail them.

use super::Round;
use crate::error::Result;
use crate::stats::{Recorder, Stats};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The shortest idle timeout a burst function is deployed with.
const MIN_IDLE_TIMEOUT: Duration = Duration::from_millis(50);

/// The idle timeout a deployed burst function gets: half the idle period, so that the spike
/// arrives at a function that has gone cold in the meantime.
pub(super) fn idle_timeout(idle: Duration) -> Duration {
    (idle / 2).max(MIN_IDLE_TIMEOUT)
}

/// Waits `--idle`, then sends `--burst` requests at once; each latency counts from the moment
/// the spike began, and the run lasts until the last answer.
pub(super) async fn round(round: &Round<'_>) -> Result<Vec<(String, Stats)>> {
    tokio::time::sleep(round.options.idle).await;
    let recorder = Recorder::new()?;
    let _progress = round.progress(&recorder, "spike", None);
    let start = Instant::now();
    let mut requests = JoinSet::new();
    for _ in 0..round.options.burst {
        let request = round.endpoint.caller.call(0);
        let recorder = recorder.clone();
        requests.spawn(async move {
            let reply = request.await;
            recorder.record(
                0,
                reply.outcome,
                reply.done_at.saturating_duration_since(start),
            );
        });
    }
    while let Some(done) = requests.join_next().await {
        done?;
    }
    let elapsed = start.elapsed();
    recorder.with(|stats| stats.finish_run(elapsed));
    Ok(vec![("requests".to_owned(), recorder.snapshot())])
}

/// The spike's size and how long, on average over the rounds, until all of it was answered.
pub(super) fn facts(burst: usize, stats: &Stats) -> Vec<(String, f64)> {
    let runs = f64::from(stats.runs().max(1));
    vec![
        ("burst".to_owned(), burst as f64),
        (
            "all_answered_ms".to_owned(),
            stats.elapsed().as_secs_f64() * 1e3 / runs,
        ),
    ]
}
