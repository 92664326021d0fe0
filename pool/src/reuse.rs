//! Instance reuse (`[scale] reuse = true`): an instance whose call ended cleanly is kept on its
//! version's loaded code ([`crate::warm::Warm`]) and handed to the next call of that version,
//! until it has served `reuse_max_uses` calls or waited `reuse_idle` for one.
//!
//! Kept instances are never shared across functions or versions: the set lives on one version's
//! loaded code and is dropped with it (scale to zero, replace, delete, eviction). They count as
//! live instances and hold their pooling-allocator slots while kept; when the node's slots run
//! out they are the first thing given back ([`KeptSets::shed`]), being the cheapest layer to
//! restore (an instantiation, tens of microseconds).
//!
//! What is per call and reset before a kept instance serves again: the epoch deadline and the
//! fair-share CPU account, the request id its log lines and egress refusals carry (its unfinished
//! output lines are logged under the old one first), the count of messages sent
//! (`max_messages_per_call`). What is per instance and kept: linear memory and globals, open
//! key-value buckets (counted against `max_open_buckets` while open), messages the guest holds,
//! sockets it left open, the stdout and stderr streams its runtime caches. An instance whose
//! resource table still holds a piece of the finished call (a request, a response, a body, an
//! outgoing request in flight) is dropped instead of kept.

use crate::host::Host;
use crate::warm::Warm;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Instant;
use tokio::sync::oneshot;
use wasmgate_config::Reuse;
use wasmtime::Store;
use wasmtime::component::ResourceTable;
use wasmtime_wasi_http::handler::Proxy;
use wasmtime_wasi_http::p2::body::{HostFutureTrailers, HostIncomingBody, HostOutgoingBody};
use wasmtime_wasi_http::p2::types::{
    HostFutureIncomingResponse, HostIncomingRequest, HostIncomingResponse, HostOutgoingRequest,
    HostOutgoingResponse, HostResponseOutparam,
};

/// An instance kept after a clean call, waiting for the next call of its version.
pub(crate) struct Kept {
    pub(crate) store: Store<Host>,
    pub(crate) proxy: Proxy,
    /// Calls it has served so far.
    pub(crate) uses: u32,
    /// When its last call ended.
    idle_since: Instant,
    _counted: KeptMark,
}

/// Counts one kept instance in its function's [`ReuseCounts::kept`] while it exists.
struct KeptMark(Arc<ReuseCounts>);

impl Drop for KeptMark {
    fn drop(&mut self) {
        self.0.kept.fetch_sub(1, Ordering::Relaxed);
    }
}

/// One function's reuse counters, kept across loads of its code (for `FunctionStats`).
#[derive(Debug, Default)]
pub(crate) struct ReuseCounts {
    /// Instances kept and waiting now.
    pub(crate) kept: AtomicUsize,
    /// Calls served by a kept instance.
    pub(crate) reuses: AtomicU64,
}

/// How one function reuses instances: its bounds, how many it may keep, its counters.
#[derive(Clone, Debug)]
pub(crate) struct ReusePolicy {
    pub(crate) bounds: Reuse,
    /// Most instances kept at once: no more than could run at once (`max_instances`,
    /// `max_concurrency`), so kept and running instances together stay within them.
    pub(crate) most_kept: usize,
    pub(crate) counts: Arc<ReuseCounts>,
}

/// The kept instances of one loaded version; dropped with it.
#[derive(Default)]
pub(crate) struct ReuseSet {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Oldest first: an instance is pushed when its call ends, and the newest is taken first,
    /// so the ones left at the front are the ones to expire.
    kept: Vec<Kept>,
    /// A sweeper task is dropping this set's instances as they pass `reuse_idle`.
    sweeping: bool,
    /// The node's registry knows this set (registered with the first kept instance).
    registered: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes out every instance idle for `idle` or longer at `now`.
    fn expired(&self, now: Instant, idle: std::time::Duration) -> Vec<Kept> {
        let mut state = self.lock();
        let fresh = state
            .kept
            .iter()
            .position(|k| now.saturating_duration_since(k.idle_since) < idle)
            .unwrap_or(state.kept.len());
        state.kept.drain(..fresh).collect()
    }

    /// Takes out every instance.
    fn drain(&self) -> Vec<Kept> {
        std::mem::take(&mut self.lock().kept)
    }
}

impl ReuseSet {
    /// The newest instance that has waited less than `policy`'s `reuse_idle`, counted as a reuse;
    /// older ones are dropped on the way.
    pub(crate) fn take(&self, policy: &ReusePolicy) -> Option<Kept> {
        let expired = self.shared.expired(Instant::now(), policy.bounds.idle);
        drop(expired);
        let kept = self.shared.lock().kept.pop()?;
        policy.counts.reuses.fetch_add(1, Ordering::Relaxed);
        Some(kept)
    }

    /// Keeps an instance for the next call, unless the set is full; starts the sweeper that
    /// drops it once idle past `reuse_idle`, and registers the set with the node.
    fn put(&self, kept: Kept, policy: &ReusePolicy, node: &KeptSets) {
        let (sweep, register) = {
            let mut state = self.shared.lock();
            if state.kept.len() >= policy.most_kept {
                return;
            }
            state.kept.push(kept);
            let sweep = !std::mem::replace(&mut state.sweeping, true);
            let register = !std::mem::replace(&mut state.registered, true);
            (sweep, register)
        };
        if register {
            node.register(&self.shared);
        }
        if sweep {
            tokio::spawn(sweep_idle(Arc::downgrade(&self.shared), policy.bounds.idle));
        }
    }
}

/// Drops a set's instances as they pass `idle`, sleeping until the next one does; ends when the
/// set is empty (the next kept instance starts another) or gone with its code.
async fn sweep_idle(set: Weak<Shared>, idle: std::time::Duration) {
    loop {
        let Some(shared) = set.upgrade() else { return };
        let expired = shared.expired(Instant::now(), idle);
        let next = {
            let mut state = shared.lock();
            match state.kept.first() {
                Some(oldest) => Some(oldest.idle_since + idle),
                None => {
                    state.sweeping = false;
                    None
                }
            }
        };
        drop(shared);
        // Dropped outside the lock: freeing a store returns its slot and memory.
        drop(expired);
        match next {
            Some(at) => tokio::time::sleep_until(at.into()).await,
            None => return,
        }
    }
}

impl ReusePolicy {
    /// Keeps the instance of a call that ended cleanly (the guest returned, its response went
    /// out whole) for the next call of `warm`'s version, or drops it: past `reuse_max_uses`, when
    /// its resource table still holds a piece of the finished call, or when the set is full.
    /// Its log is closed for the finished request either way.
    pub(crate) fn park(
        &self,
        warm: &Warm,
        node: &KeptSets,
        mut store: Store<Host>,
        proxy: Proxy,
        uses: u32,
    ) {
        store.data().log.end_call();
        if uses >= self.bounds.max_uses || holds_call_state(store.data_mut().table()) {
            return;
        }
        self.counts.kept.fetch_add(1, Ordering::Relaxed);
        let kept = Kept {
            store,
            proxy,
            uses,
            idle_since: Instant::now(),
            _counted: KeptMark(self.counts.clone()),
        };
        warm.reuse.put(kept, self, node);
    }
}

/// Whether `table` still holds a `wasi:http` resource of a call: the request or its body, the
/// response or its outparam or body, an outgoing request or its response. Streams and pollables
/// of those are their children and cannot outlive them. What a guest may keep between calls
/// (stdout and stderr streams, key-value buckets, messages, sockets, header fields) is its own
/// state, like its memory.
pub(crate) fn holds_call_state(table: &mut ResourceTable) -> bool {
    table.iter_mut().any(|entry| {
        let entry: &dyn std::any::Any = entry;
        entry.is::<HostIncomingRequest>()
            || entry.is::<HostResponseOutparam>()
            || entry.is::<HostIncomingBody>()
            || entry.is::<HostFutureTrailers>()
            || entry.is::<HostOutgoingResponse>()
            || entry.is::<HostOutgoingBody>()
            || entry.is::<HostOutgoingRequest>()
            || entry.is::<HostIncomingResponse>()
            || entry.is::<HostFutureIncomingResponse>()
            || entry.is::<wasmtime_wasi_http::p3::Request>()
            || entry.is::<wasmtime_wasi_http::p3::Response>()
    })
}

/// Every function's kept instances on this node, so they can be given back at once when the
/// node's pooling slots run out.
#[derive(Default)]
pub(crate) struct KeptSets {
    sets: Mutex<Vec<Weak<Shared>>>,
}

impl KeptSets {
    fn register(&self, set: &Arc<Shared>) {
        let mut sets = self.sets.lock().unwrap_or_else(PoisonError::into_inner);
        sets.retain(|s| s.strong_count() > 0);
        sets.push(Arc::downgrade(set));
    }

    /// Drops every kept instance of every function; returns how many.
    pub(crate) fn shed(&self) -> usize {
        let sets: Vec<Arc<Shared>> = self
            .sets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let dropped: Vec<Kept> = sets.iter().flat_map(|set| set.drain()).collect();
        let count = dropped.len();
        if count > 0 {
            tracing::debug!(instances = count, "kept instances given back to the node");
        }
        count
    }
}

/// The call's side of the handshake with its response body: told when the body reached its
/// clean end, and telling the body once the instance is kept (or dropped).
pub(crate) struct CallEnd {
    pub(crate) complete: oneshot::Receiver<()>,
    pub(crate) parked: oneshot::Sender<()>,
}

/// The body's side of [`CallEnd`].
pub(crate) struct BodyEnd {
    pub(crate) complete: oneshot::Sender<()>,
    pub(crate) parked: oneshot::Receiver<()>,
}

/// A connected pair: the body says its clean end, then waits (briefly: the guest has finished
/// its body) until the call has kept the instance, so a client that sends its next request as
/// soon as it has the whole response finds the instance waiting.
pub(crate) fn handshake() -> (CallEnd, BodyEnd) {
    let (complete_tx, complete_rx) = oneshot::channel();
    let (parked_tx, parked_rx) = oneshot::channel();
    (
        CallEnd {
            complete: complete_rx,
            parked: parked_tx,
        },
        BodyEnd {
            complete: complete_tx,
            parked: parked_rx,
        },
    )
}
