//! The open-loop engine: every request is sent at its scheduled time on its own task, whether or
//! not earlier ones have been answered, and its latency counts from that scheduled time.
//!
//! The dispatcher is a dedicated thread that sleeps with `std::thread::sleep` (tens of
//! microseconds of slack on Linux) rather than a tokio timer (whole milliseconds), because every
//! bit of the generator's own lateness is charged to the request as latency. That lateness is
//! also recorded on its own ([`Stats::send_lag_at`](crate::Stats::send_lag_at)) so a slow
//! generator is visible instead of being blamed on the server.

use crate::client::Reply;
use crate::error::Result;
use crate::schedule::{Arrival, corrected_latency};
use crate::stats::{Recorder, Stats};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How many requests may be in flight at once unless told otherwise: far beyond what a healthy
/// target needs at any sane rate, low enough that a dead one cannot exhaust file descriptors.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 10_000;

/// Sends `arrivals` (sorted by time) through `send`, recording into `recorder`; returns the wall
/// time from the start until the last answer.
///
/// At most `max_in_flight` requests are outstanding. A request that comes due while the bound
/// is reached is not sent and is counted as dropped: skipping it silently would be another form
/// of coordinated omission.
pub async fn run<I, F, Fut>(
    arrivals: I,
    max_in_flight: usize,
    send: F,
    recorder: &Recorder,
) -> Result<Duration>
where
    I: IntoIterator<Item = Arrival>,
    I::IntoIter: Send + 'static,
    F: Fn(usize) -> Fut + Send + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    // `acquire_many` below takes a u32; nobody needs more in flight than that.
    let max_in_flight = u32::try_from(max_in_flight.max(1)).unwrap_or(u32::MAX);
    let permits = Arc::new(Semaphore::new(max_in_flight as usize));
    let runtime = tokio::runtime::Handle::current();
    let arrivals = arrivals.into_iter();
    let start = Instant::now();
    let dispatcher = {
        let permits = Arc::clone(&permits);
        let recorder = recorder.clone();
        tokio::task::spawn_blocking(move || {
            for arrival in arrivals {
                let intended = start + arrival.at;
                sleep_until(intended);
                let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                    recorder.with(Stats::record_dropped);
                    continue;
                };
                let request = send(arrival.function);
                let recorder = recorder.clone();
                runtime.spawn(async move {
                    let sent = Instant::now();
                    let reply = request.await;
                    recorder.with(|stats| {
                        stats.record_send_lag(sent.saturating_duration_since(intended));
                        stats.record(
                            arrival.function,
                            reply.outcome,
                            corrected_latency(intended, reply.done_at),
                        );
                    });
                    drop(permit);
                });
            }
        })
    };
    dispatcher.await?;
    // Every request holds a permit until it is recorded, so all permits back means all done.
    // The semaphore is never closed, so this cannot fail; if it did, there is nothing to wait for.
    let _all_done = permits.acquire_many(max_in_flight).await;
    let elapsed = start.elapsed();
    recorder.with(|stats| stats.finish_run(elapsed));
    Ok(elapsed)
}

/// Blocks the dispatcher thread until `deadline`; returns at once when it is already behind,
/// so a late generator catches up by sending immediately (and is charged for the delay).
fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

#[cfg(test)]
mod tests;
