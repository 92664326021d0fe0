//! The closed-loop engine: N workers, each sending its next request as soon as the previous one
//! was answered. It measures the most a target can serve with N connections; its latencies are
//! per request and say nothing about queueing (see [`open_loop`](crate::open_loop) for that).

use crate::client::Reply;
use crate::error::Result;
use crate::stats::Recorder;
use crate::zipf::Popularity;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::future::Future;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// The shape of a closed-loop run.
#[derive(Clone, Copy, Debug)]
pub struct ClosedLoop {
    /// How many requests are outstanding at any time (one connection each).
    pub connections: usize,
    /// How long workers keep starting new requests.
    pub duration: Duration,
    /// Which function each request calls.
    pub popularity: Popularity,
    /// Seeds worker `i`'s function picks with `seed + i`, so runs repeat.
    pub seed: u64,
}

/// Runs `shape` through `send`, recording into `recorder`; returns the wall time from the
/// start until the last worker's last answer.
pub async fn run<F, Fut>(shape: ClosedLoop, send: F, recorder: &Recorder) -> Result<Duration>
where
    F: Fn(usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Reply> + Send,
{
    let start = Instant::now();
    let deadline = start + shape.duration;
    let mut workers = JoinSet::new();
    for worker in 0..shape.connections.max(1) {
        let send = send.clone();
        let recorder = recorder.clone();
        let popularity = shape.popularity;
        let mut rng = StdRng::seed_from_u64(shape.seed.wrapping_add(worker as u64));
        workers.spawn(async move {
            while Instant::now() < deadline {
                let function = popularity.pick(&mut rng);
                let sent = Instant::now();
                let reply = send(function).await;
                recorder.record(
                    function,
                    reply.outcome,
                    reply.done_at.saturating_duration_since(sent),
                );
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done?;
    }
    let elapsed = start.elapsed();
    recorder.with(|stats| stats.finish_run(elapsed));
    Ok(elapsed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Outcome;

    #[tokio::test]
    async fn each_worker_waits_for_its_answer_before_sending_again() {
        let send = |_function| async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Reply {
                outcome: Outcome::Status(200),
                headers_at: None,
                done_at: Instant::now(),
                retry_after: false,
            }
        };
        let shape = ClosedLoop {
            connections: 2,
            duration: Duration::from_millis(200),
            popularity: Popularity::single(),
            seed: 0,
        };
        let recorder = Recorder::new().unwrap();
        let elapsed = run(shape, send, &recorder).await.unwrap();
        let stats = recorder.snapshot();
        // Each request takes at least 10 ms, so a worker sends at most 200 / 10 + 1 of them;
        // an engine that did not wait would send far more.
        assert!(stats.requests() <= 2 * 21, "{} requests", stats.requests());
        assert!(stats.requests() >= 2, "every worker sent");
        assert_eq!(stats.ok(), stats.requests());
        assert!(elapsed >= Duration::from_millis(200));
        assert_eq!(stats.elapsed(), elapsed);
    }
}
