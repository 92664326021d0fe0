//! Fair shares of guest CPU across functions.
//!
//! Every guest yields its runtime thread at each epoch tick. Yielding alone is not enough: a
//! function whose calls spin fills the runtime's run queues, and every other function's call,
//! and the HTTP edge's own tasks, queue behind one tick of each spinner (with 8 spinners on 2
//! cores a neighbour's hello took 0.33 s). So a call that is still running at its second tick
//! (it has had a whole tick of CPU) is *long*: from then on it runs only in slices handed out
//! at each tick, at most `lanes` per tick node-wide, one worker thread fewer than the runtime
//! has. Calls shorter than a tick never meet the scheduler, and at least one worker stays free
//! for them and for the edge. Waiting long calls are served least-used function first
//! ([`fair_share`](crate::fair_share)), so one function's many spinners cannot crowd out
//! another function's one long call.

use crate::fair_share::{self, Usage};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;
use tokio::sync::oneshot;
use wasmtime::UpdateDeadline;

/// Epoch deadlines a call crosses freely (yielding only) before it runs in scheduled slices:
/// one, so a call shorter than a tick that happens to span one never waits for a slice.
const FREE_CROSSINGS: u32 = 1;

/// The node's scheduler of long-running calls' slices.
#[derive(Debug)]
pub(crate) struct CpuShare {
    /// When off, every call only yields at each tick (no slices, no order between functions).
    enabled: bool,
    /// Slices handed out per tick: how many long calls may run at once.
    lanes: u32,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Slices left in this tick.
    left: u32,
    waiting: Vec<Waiter>,
    /// Arrival numbers, for first-come order within one function.
    arrivals: u64,
}

#[derive(Debug)]
struct Waiter {
    tenant: Arc<Tenant>,
    arrival: u64,
    /// Its slice; a closed sender means the call went away (stopped, timed out) while waiting.
    turn: oneshot::Sender<()>,
}

impl CpuShare {
    /// A scheduler handing out `lanes` slices per tick (at least one); `enabled: false` turns
    /// it into plain yielding.
    pub(crate) fn new(enabled: bool, lanes: u32) -> Arc<Self> {
        Arc::new(CpuShare {
            enabled,
            lanes: lanes.max(1),
            state: Mutex::new(State {
                left: lanes.max(1),
                waiting: Vec::new(),
                arrivals: 0,
            }),
        })
    }

    /// Slices for a runtime with `workers` worker threads: all but one, so a thread stays free
    /// for short calls and the HTTP edge (one, on a single-threaded runtime).
    pub(crate) fn lanes_for(workers: usize) -> u32 {
        u32::try_from(workers.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// A new function's account.
    pub(crate) fn tenant(self: &Arc<Self>) -> Arc<Tenant> {
        Arc::new(Tenant {
            share: self.clone(),
            usage: Mutex::new(Usage::new(Instant::now())),
            slices: AtomicU64::new(0),
            waits: AtomicU64::new(0),
        })
    }

    /// A new epoch tick at `now`: this tick's slices go to the waiting calls, least-used
    /// function first. Called by the epoch thread right after it advances the epoch.
    pub(crate) fn tick(&self, now: Instant) {
        if !self.enabled {
            return;
        }
        let mut state = self.lock();
        state.left = self.lanes;
        state.waiting.retain(|w| !w.turn.is_closed());
        while state.left > 0 {
            let waiting = state.waiting.iter();
            let next = fair_share::next(waiting.map(|w| (w.tenant.usage_now(), w.arrival)), now);
            let Some(i) = next else { break };
            let waiter = state.waiting.swap_remove(i);
            if waiter.turn.send(()).is_ok() {
                waiter.tenant.charge(now);
                state.left -= 1;
            }
        }
    }

    /// This tick's slice for a long call of `tenant`, now if one is left and nobody waits, or a
    /// receiver told when one is granted.
    fn take(&self, tenant: &Arc<Tenant>, now: Instant) -> Option<oneshot::Receiver<()>> {
        let mut state = self.lock();
        if state.left > 0 {
            state.left -= 1;
            tenant.charge(now);
            return None;
        }
        let (turn, granted) = oneshot::channel();
        state.arrivals += 1;
        let arrival = state.arrivals;
        state.waiting.push(Waiter {
            tenant: tenant.clone(),
            arrival,
            turn,
        });
        tenant.waits.fetch_add(1, Ordering::Relaxed);
        Some(granted)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One function's account with the node's scheduler: its recent use and its counters.
#[derive(Debug)]
pub(crate) struct Tenant {
    share: Arc<CpuShare>,
    /// Changed only with the scheduler's state locked.
    usage: Mutex<Usage>,
    slices: AtomicU64,
    waits: AtomicU64,
}

impl Tenant {
    /// Slices its long calls have been given.
    pub(crate) fn slices(&self) -> u64 {
        self.slices.load(Ordering::Relaxed)
    }

    /// Times one of its long calls waited for a slice while other calls had this tick's.
    pub(crate) fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    fn usage_now(&self) -> Usage {
        *self.usage.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn charge(&self, now: Instant) {
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .charge(now);
        self.slices.fetch_add(1, Ordering::Relaxed);
    }
}

/// One call's standing with the scheduler, kept in its store's data.
#[derive(Debug)]
pub(crate) struct CallCpu {
    tenant: Arc<Tenant>,
    /// Epoch deadlines crossed since the call began.
    crossings: u32,
}

impl CallCpu {
    /// A call of `tenant`'s function that has not run yet.
    pub(crate) fn new(tenant: &Arc<Tenant>) -> Self {
        CallCpu {
            tenant: tenant.clone(),
            crossings: 0,
        }
    }

    /// Starts counting afresh: the store was instantiated ahead of its call.
    pub(crate) fn restart(&mut self) {
        self.crossings = 0;
    }

    /// What the guest does at an epoch deadline: yield, and once long, wait for its slice.
    pub(crate) fn at_deadline(&mut self) -> UpdateDeadline {
        self.crossings = self.crossings.saturating_add(1);
        if !self.tenant.share.enabled || self.crossings <= FREE_CROSSINGS {
            return UpdateDeadline::Yield(1);
        }
        let tenant = self.tenant.clone();
        UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                match tenant.share.take(&tenant, Instant::now()) {
                    None => tokio::task::yield_now().await,
                    // An error means the scheduler is gone (the node is shutting down): go on.
                    Some(granted) => {
                        let _ = granted.await;
                    }
                }
            }),
        )
    }
}

#[cfg(test)]
mod tests;
