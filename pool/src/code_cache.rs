//! The node's loaded functions: single-flight cold starts, and the keep-alive policy that decides
//! which stay loaded and for how long.
//!
//! moka holds the loaded code and makes concurrent cold starts of one function share one load;
//! what leaves memory, and when, is decided by `wasmgate-policy`'s [`Residency`] under the
//! node's byte budget, with each function's call [`Pattern`] (kept in its cost account, updated
//! on every call) and the [`KeepAlivePolicy`] the node runs. The same policy code runs in the
//! trace simulator (`wasmgate-loadtest simulate`), so simulated and live runs are comparable.
//!
//! The residency is consulted only at a cold start ([`CodeCache::admitted`]: who leaves to make
//! room) and at each housekeeping tick ([`CodeCache::sweep`]: what expired, what to pre-warm),
//! never on a warm call.
//!
//! [`Pattern`]: wasmgate_policy::Pattern

use crate::cost::FunctionCost;
use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::warm::Warm;
use moka::future::Cache;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};
use wasmgate_policy::{
    Action, Footprint, KeepAlivePolicy, Layer, LayerCost, Memory, PatternParams, Residency, Usage,
    Windows,
};

/// Identifies one deployed version of one function; a replace gets a new key even when the
/// artifact is unchanged, because the manifest (limits, `min_instances`) may differ.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct CodeKey {
    pub(crate) name: Arc<str>,
    pub(crate) artifact: Digest,
    pub(crate) generation: u64,
}

/// Counts of why loaded functions left memory, for metrics.
#[derive(Debug, Default)]
pub struct Evictions {
    /// Dropped when the keep-alive policy's window after the last call ended (scale to zero).
    pub idle: AtomicU64,
    /// Dropped to make room for another function under the node's budget.
    pub budget: AtomicU64,
    /// Dropped because the function was replaced or deleted.
    pub removed: AtomicU64,
}

/// Starts loading a function again (a pre-warm), in the background.
pub(crate) type Prewarm = Arc<dyn Fn() + Send + Sync>;

/// What the keep-alive policy needs to know of one deployed version.
pub(crate) struct Registered {
    /// Its cost account, which holds its call pattern.
    pub(crate) cost: Weak<FunctionCost>,
    /// Its manifest's `idle_timeout`: the keep-alive while its pattern is unknown.
    pub(crate) idle_timeout: Duration,
    /// `min_instances > 0`: never unloaded.
    pub(crate) pinned: bool,
    pub(crate) prewarm: Prewarm,
}

struct KeepAlive {
    policy: KeepAlivePolicy,
    params: PatternParams,
    residency: Residency<CodeKey>,
    functions: HashMap<CodeKey, Registered>,
}

/// Loaded functions under the node's budget and keep-alive policy.
pub(crate) struct CodeCache {
    cache: Cache<CodeKey, Arc<Warm>>,
    keep_alive: Mutex<KeepAlive>,
    /// The policy's clock starts here.
    origin: Instant,
    evictions: Arc<Evictions>,
}

impl CodeCache {
    /// A cache holding at most `budget` bytes (loaded code and kept instances), run by the
    /// default policy until [`CodeCache::set_policy`].
    pub(crate) fn new(budget: u64) -> Self {
        let policy = KeepAlivePolicy::default();
        let cache = Cache::builder()
            .weigher(|_, warm: &Arc<Warm>| u32::try_from(warm.code_bytes).unwrap_or(u32::MAX))
            .build();
        CodeCache {
            cache,
            keep_alive: Mutex::new(KeepAlive {
                policy,
                params: PatternParams::default(),
                residency: Residency::new(budget, policy.eviction()),
                functions: HashMap::new(),
            }),
            origin: Instant::now(),
            evictions: Arc::new(Evictions::default()),
        }
    }

    /// Runs `policy` from now on, measuring call patterns on `params`' time scale. Call it
    /// before any function is created: patterns keep the scale they were made with.
    pub(crate) fn set_policy(&self, policy: KeepAlivePolicy, params: PatternParams) {
        let mut keep_alive = self.lock();
        let budget = keep_alive.residency.budget();
        keep_alive.policy = policy;
        keep_alive.params = params;
        keep_alive.residency = Residency::new(budget, policy.eviction());
    }

    /// The policy's clock now: time since the node started.
    pub(crate) fn now(&self) -> Duration {
        self.origin.elapsed()
    }

    /// The node's clock origin and the time scale new call patterns are measured on.
    pub(crate) fn clock(&self) -> (Instant, PatternParams) {
        (self.origin, self.lock().params)
    }

    /// Tells the policy about a deployed version (at its handle's creation).
    pub(crate) fn register(&self, key: CodeKey, registered: Registered) {
        self.lock().functions.insert(key, registered);
    }

    /// Forgets a version whose handles are all gone.
    pub(crate) fn unregister(&self, key: &CodeKey) {
        let mut keep_alive = self.lock();
        keep_alive.functions.remove(key);
        keep_alive.residency.remove(key);
    }

    /// The loaded function for `key`, loading it with `load` if cold; concurrent callers share
    /// one load. The second value says whether this call loaded it (then call [`admitted`]).
    ///
    /// [`admitted`]: CodeCache::admitted
    pub(crate) async fn get_or_load<F>(&self, key: &CodeKey, load: F) -> Result<(Arc<Warm>, bool)>
    where
        F: Future<Output = Result<Warm>>,
    {
        if let Some(warm) = self.cache.get(key).await {
            return Ok((warm, false));
        }
        let mut loaded = false;
        let warm = self
            .cache
            .try_get_with_by_ref(key, async {
                loaded = true;
                load.await.map(Arc::new)
            })
            .await
            .map_err(|e: Arc<Error>| (*e).clone())?;
        Ok((warm, loaded))
    }

    /// Tells the policy `key` was just loaded as `warm`; drops whoever it evicts to make room
    /// under the budget (never a function with a call in flight).
    pub(crate) async fn admitted(&self, key: &CodeKey, warm: &Warm) {
        let footprint = Footprint {
            // Loading and linking are restored together here: the node keeps the linked state
            // with the code (the simulator can weigh them apart).
            code: LayerCost {
                bytes: warm.code_bytes,
                restore: warm.load_time + warm.link_time,
            },
            ..Footprint::default()
        };
        let actions = {
            let now = self.now();
            let mut guard = self.lock();
            let keep_alive = &mut *guard;
            let pinned = keep_alive.functions.get(key).is_some_and(|r| r.pinned);
            let (functions, residency) = (&keep_alive.functions, &mut keep_alive.residency);
            let view = KeepAliveView {
                functions,
                policy: keep_alive.policy,
            };
            residency.admit(key.clone(), footprint, pinned, now, |k| view.used(k, now))
        };
        self.apply(actions, &self.evictions.budget).await;
    }

    /// Drops what the policy says has expired, starts pre-warming what is due, and evicts
    /// what an admission could not (its candidates were busy then) to bring the node back under
    /// its budget.
    pub(crate) async fn sweep(&self) {
        let (expired, over_budget) = {
            let now = self.now();
            let mut guard = self.lock();
            let keep_alive = &mut *guard;
            let (functions, residency) = (&keep_alive.functions, &mut keep_alive.residency);
            let view = KeepAliveView {
                functions,
                policy: keep_alive.policy,
            };
            if view.policy.may_prewarm() {
                // A function whose call just ended leaves now and comes back at its pre-warm
                // window (SitW), as in the simulator, which reviews it at each call's end; at its
                // old deadline the node would keep it loaded across the gap. One atomic swap per
                // registered function per tick, and a review only for those that ran.
                for (key, registered) in functions {
                    if let Some(cost) = registered.cost.upgrade()
                        && cost.take_ended()
                    {
                        let bytes = residency.footprint(key).map_or(0, |f| f.bytes());
                        let (usage, windows) = view.usage_of(registered, &cost, now, bytes);
                        residency.refresh(key, now, usage, windows);
                    }
                }
            }
            let expired = if residency.next_deadline().is_some_and(|next| next <= now) {
                residency.sweep(now, |k, footprint| view.usage(k, now, footprint.bytes()))
            } else {
                Vec::new()
            };
            let over_budget = residency.enforce(now, |k| view.used(k, now));
            (expired, over_budget)
        };
        self.apply(expired, &self.evictions.idle).await;
        self.apply(over_budget, &self.evictions.budget).await;
    }

    async fn apply(&self, actions: Vec<Action<CodeKey>>, counter: &AtomicU64) {
        for action in actions {
            match action {
                Action::Drop { key, from } => {
                    if from == Layer::Instances {
                        // No kept instances on this node: pre-instantiated ones belong to pinned
                        // functions, which are never evicted.
                        continue;
                    }
                    // A call that began since the policy looked keeps its code (an Arc) to the
                    // end; the next call loads it again.
                    if self.cache.remove(&key).await.is_some() {
                        counter.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(function = %key.name, "unloaded function code");
                    }
                }
                Action::Prewarm { key } => {
                    let prewarm = self.lock().functions.get(&key).map(|r| r.prewarm.clone());
                    match prewarm {
                        Some(prewarm) => prewarm(),
                        None => {
                            self.lock().residency.remove(&key);
                        }
                    }
                }
            }
        }
    }

    /// Whether `key` is loaded, without counting as use.
    pub(crate) fn is_warm(&self, key: &CodeKey) -> bool {
        self.cache.contains_key(key)
    }

    /// Drops `key`'s loaded state (replace, delete).
    pub(crate) async fn remove(&self, key: &CodeKey) {
        self.lock().residency.remove(key);
        if self.cache.remove(key).await.is_some() {
            self.evictions.removed.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// What the keep-alive policy wants resident of the functions `counted` selects by name,
    /// and the budget it holds them in (see [`Residency::demand_of`]).
    pub(crate) fn memory(&self, mut counted: impl FnMut(&str) -> bool) -> Memory {
        let keep_alive = self.lock();
        Memory {
            demand: keep_alive.residency.demand_of(|key| counted(&key.name)),
            budget: keep_alive.residency.budget(),
        }
    }

    /// Bytes of code currently loaded.
    pub(crate) fn loaded_bytes(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Number of functions currently loaded.
    pub(crate) fn loaded_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Eviction counters.
    pub(crate) fn evictions(&self) -> &Arc<Evictions> {
        &self.evictions
    }

    /// Applies pending removals so memory is actually released and counts are current.
    pub(crate) async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks().await;
    }

    fn lock(&self) -> MutexGuard<'_, KeepAlive> {
        // A panic mid-update leaves the policy's state usable: at worst one decision is off.
        self.keep_alive.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The usage of a function no longer registered: nothing in flight, never called.
const GONE: Usage = Usage {
    in_flight: 0,
    calls: 0,
    last_end: None,
    frequency: 0.0,
};

/// The registered functions seen by the residency's callbacks while it is borrowed mutably.
struct KeepAliveView<'a> {
    functions: &'a HashMap<CodeKey, Registered>,
    policy: KeepAlivePolicy,
}

impl KeepAliveView<'_> {
    /// `key`'s usage at `now` (what eviction reads), without its windows.
    fn used(&self, key: &CodeKey, now: Duration) -> Usage {
        self.functions
            .get(key)
            .and_then(|registered| registered.cost.upgrade())
            .map_or(GONE, |cost| {
                cost.with_pattern(|pattern| Usage::of(pattern, now))
            })
    }

    /// What `key`, holding `bytes` when fully resident, shows at `now`: its usage, and the
    /// windows the policy gives it.
    fn usage(&self, key: &CodeKey, now: Duration, bytes: u64) -> (Usage, Windows) {
        let gone = (GONE, Windows::keep(Duration::ZERO));
        let Some(registered) = self.functions.get(key) else {
            return gone;
        };
        let Some(cost) = registered.cost.upgrade() else {
            return gone;
        };
        self.usage_of(registered, &cost, now, bytes)
    }

    /// [`usage`](KeepAliveView::usage) of a function already looked up, with its account.
    fn usage_of(
        &self,
        registered: &Registered,
        cost: &FunctionCost,
        now: Duration,
        bytes: u64,
    ) -> (Usage, Windows) {
        cost.with_pattern(|pattern| {
            (
                Usage::of(pattern, now),
                self.policy.windows(pattern, registered.idle_timeout, bytes),
            )
        })
    }
}
