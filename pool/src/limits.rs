//! Per-function concurrency: a bounded number of running calls and a short, bounded queue.

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Waiting calls allowed per running slot; a burst of several times the limit queues briefly.
const QUEUE_PER_SLOT: u32 = 4;

/// Waiting calls always allowed, so small limits still absorb a burst on a cold function.
const MIN_QUEUE: u32 = 256;

/// Calls refused past a full queue that are held until their `queue_timeout` is up; beyond
/// these a refusal is answered at once. Bounds the memory held by a flood that ignores
/// `Retry-After` (each is a request head and a timer).
const MAX_HELD_REFUSALS: u32 = 4096;

/// Admits at most `limit` concurrent calls; a bounded number more wait at most `queue_timeout`.
///
/// A call past a full queue is refused no sooner than a queued one would time out: answered at
/// once, clients that retry without heeding `Retry-After` loop as fast as the node can refuse
/// them, which took the CPU that other functions' calls needed (`scripts/bench-overload`).
#[derive(Debug)]
pub(crate) struct ConcurrencyLimit {
    slots: Arc<Semaphore>,
    limit: u32,
    queue: u32,
    waiting: AtomicU32,
    held_refusals: AtomicU32,
    queue_timeout: Duration,
}

impl ConcurrencyLimit {
    pub(crate) fn new(limit: u32, queue_timeout: Duration) -> Self {
        let limit = limit.max(1);
        ConcurrencyLimit {
            slots: Arc::new(Semaphore::new(limit as usize)),
            limit,
            queue: limit.saturating_mul(QUEUE_PER_SLOT).max(MIN_QUEUE),
            waiting: AtomicU32::new(0),
            held_refusals: AtomicU32::new(0),
            queue_timeout,
        }
    }

    /// A slot for one call, or [`Error::Saturated`] once the queue is full or the wait times out.
    pub(crate) async fn acquire(&self) -> Result<OwnedSemaphorePermit> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let saturated = Error::Saturated { limit: self.limit };
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            self.hold_refusal().await;
            return Err(saturated);
        }
        let waited =
            tokio::time::timeout(self.queue_timeout, self.slots.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        match waited {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(saturated),
        }
    }

    /// Waits out `queue_timeout` before a refusal, unless [`MAX_HELD_REFUSALS`] already wait.
    async fn hold_refusal(&self) {
        if self.held_refusals.fetch_add(1, Ordering::AcqRel) < MAX_HELD_REFUSALS {
            tokio::time::sleep(self.queue_timeout).await;
        }
        self.held_refusals.fetch_sub(1, Ordering::AcqRel);
    }

    /// Calls running now.
    pub(crate) fn running(&self) -> u32 {
        self.limit
            .saturating_sub(u32::try_from(self.slots.available_permits()).unwrap_or(u32::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_limit_queues_briefly_then_refuses() {
        let limit = ConcurrencyLimit::new(1, Duration::from_millis(20));
        let held = limit.acquire().await.unwrap();
        assert_eq!(limit.running(), 1);
        assert!(matches!(
            limit.acquire().await,
            Err(Error::Saturated { limit: 1 })
        ));
        drop(held);
        assert!(limit.acquire().await.is_ok());
    }

    /// Fills the queue behind one held slot; returns the held permit and the queued calls.
    async fn full_queue(
        limit: &Arc<ConcurrencyLimit>,
    ) -> (
        OwnedSemaphorePermit,
        Vec<tokio::task::JoinHandle<Result<()>>>,
    ) {
        let held = limit.acquire().await.unwrap();
        let queued = (0..limit.queue)
            .map(|_| {
                let limit = limit.clone();
                tokio::spawn(async move { limit.acquire().await.map(|_| ()) })
            })
            .collect();
        while limit.waiting.load(Ordering::Acquire) < limit.queue {
            tokio::task::yield_now().await;
        }
        (held, queued)
    }

    // Paused time: the clock moves only when every task waits, so the delay is exact.
    #[tokio::test(start_paused = true)]
    async fn past_a_full_queue_the_refusal_comes_after_the_queue_timeout() {
        let limit = Arc::new(ConcurrencyLimit::new(1, Duration::from_secs(1)));
        let (held, queued) = full_queue(&limit).await;
        let started = tokio::time::Instant::now();
        assert!(matches!(
            limit.acquire().await,
            Err(Error::Saturated { limit: 1 })
        ));
        assert!(started.elapsed() >= Duration::from_secs(1));
        drop(held);
        for call in queued {
            let _ = call.await.unwrap();
        }
        assert_eq!(limit.held_refusals.load(Ordering::Acquire), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_held_refusals_bound_a_refusal_is_answered_at_once() {
        let limit = Arc::new(ConcurrencyLimit::new(1, Duration::from_secs(1)));
        let (_held, _queued) = full_queue(&limit).await;
        limit
            .held_refusals
            .store(MAX_HELD_REFUSALS, Ordering::Release);
        let started = tokio::time::Instant::now();
        assert!(matches!(
            limit.acquire().await,
            Err(Error::Saturated { limit: 1 })
        ));
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test]
    async fn a_waiter_gets_the_slot_freed_during_its_wait() {
        let limit = Arc::new(ConcurrencyLimit::new(1, Duration::from_secs(30)));
        let held = limit.acquire().await.unwrap();
        let waiter = tokio::spawn({
            let limit = limit.clone();
            async move { limit.acquire().await.map(|_| ()) }
        });
        tokio::task::yield_now().await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
    }
}
