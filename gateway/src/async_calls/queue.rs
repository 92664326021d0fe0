//! One bounded queue per function: places are taken before a call is stored and given back
//! when its result is, so a function never has more than `async_calls.max_queued` calls
//! accepted and unfinished. The queue carries ids only; a call's body is read when it runs.

use super::worker;
use crate::error::ApiError;
use crate::state::Gateway;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::mpsc;

/// The per-function queues, each with its worker.
#[derive(Default)]
pub struct Workers {
    queues: Mutex<HashMap<String, Queue>>,
}

/// One function's queue: where its worker takes jobs, and how many calls hold a place.
#[derive(Clone)]
struct Queue {
    jobs: mpsc::UnboundedSender<Job>,
    places: Arc<AtomicUsize>,
}

/// A place in a function's queue; given back when dropped.
pub struct Slot {
    queue: Queue,
}

/// A call for a worker to run, holding its place until its result is stored.
pub struct Job {
    /// The call's id.
    pub id: String,
    /// Its place in the queue.
    slot: Slot,
}

impl Job {
    /// Gives the call's place in the queue back (its result is stored, or it cannot run).
    pub fn release(self) {
        drop(self.slot);
    }
}

impl Workers {
    /// Takes a place in `function`'s queue, starting its worker on first use. With `limit`,
    /// refuses (`429 async_queue_full`) when that many calls already hold one; without, always
    /// takes one (calls resumed after a restart were accepted already).
    pub fn reserve(
        &self,
        gw: &Arc<Gateway>,
        function: &str,
        limit: Option<u32>,
    ) -> Result<Slot, ApiError> {
        let mut queues = self.queues.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = queues.entry(function.to_owned()).or_insert_with(|| {
            let (jobs, rx) = mpsc::unbounded_channel();
            tokio::spawn(worker::work(Arc::downgrade(gw), rx));
            Queue {
                jobs,
                places: Arc::default(),
            }
        });
        let taken = queue.places.load(Ordering::Acquire);
        if let Some(limit) = limit
            && taken >= limit as usize
        {
            return Err(ApiError::AsyncQueueFull {
                function: function.to_owned(),
                limit,
            });
        }
        // Under the map's lock, so two accepts cannot both take the last place.
        queue.places.fetch_add(1, Ordering::AcqRel);
        Ok(Slot {
            queue: queue.clone(),
        })
    }
}

impl Slot {
    /// Hands the stored call `id` to the function's worker; the place goes with it.
    pub fn enqueue(self, id: String) {
        let jobs = self.queue.jobs.clone();
        // The worker stops only with the gateway; a call lost here stays queued in the store
        // and runs after the next start.
        let _ = jobs.send(Job { id, slot: self });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.queue.places.fetch_sub(1, Ordering::AcqRel);
    }
}
