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

/// Admits at most `limit` concurrent calls; a bounded number more wait at most `queue_timeout`.
#[derive(Debug)]
pub(crate) struct ConcurrencyLimit {
    slots: Arc<Semaphore>,
    limit: u32,
    queue: u32,
    waiting: AtomicU32,
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
