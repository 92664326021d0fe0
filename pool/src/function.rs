//! A deployed function's handle: admission, cold start, pre-instantiation and calls.

use crate::call::{self, CallLimits, Instance};
use crate::code_cache::{CodeKey, Prewarm, Registered};
use crate::cost::{CostTotals, FunctionCost};
use crate::cpu_share::Tenant;
use crate::digest::Digest;
use crate::error::Result;
use crate::guest_log::FunctionLog;
use crate::node::Node;
use crate::response_body::ResponseBody;
use crate::reuse::{ReuseCounts, ReusePolicy};
use crate::warm::{StoreSpec, Warm};
use bytes::Bytes;
use http_body::Body;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use wasmgate_capabilities::KvCtx;
use wasmgate_capabilities::egress::EgressCtx;
use wasmgate_capabilities::messaging::{Message, MessagingCtx};
use wasmgate_config::{CapabilitySet, FunctionSettings};
use wasmtime_wasi_config::WasiConfigVariables;

use crate::limits::ConcurrencyLimit;

/// What the pool needs to know to run one deployed version of a function.
#[derive(Clone)]
pub struct FunctionSpec {
    /// The function's registered name.
    pub name: String,
    /// Its precompiled artifact in the store.
    pub artifact: Digest,
    /// The artifact's size in bytes, charged to the code budget while loaded.
    pub artifact_size: u64,
    /// Capabilities it was granted: what its linker provides.
    pub grants: CapabilitySet,
    /// Limits and scaling, resolved from the manifest and the node defaults.
    pub settings: FunctionSettings,
    /// Told the duration of every cold start (for metrics).
    pub on_cold_start: Option<ColdStartHook>,
    /// Values served through `wasi:config/store` (with the `config` grant), secrets resolved.
    pub config: BTreeMap<String, String>,
    /// The node's key-value store, scoped to this function (used with the `keyvalue` grant);
    /// the pool applies `settings.max_open_buckets` to it.
    pub kv: KvCtx,
    /// The node's message bus (used with the `messaging` grant); the pool applies
    /// `settings.max_messages_per_call` to it.
    pub messaging: MessagingCtx,
    /// Where its `wasi:http` requests and `wasi:sockets` connections may go, and the hook that
    /// counts refusals; built once per deployed version.
    pub egress: EgressCtx,
}

/// A callback told how long each cold start took.
pub type ColdStartHook = Arc<dyn Fn(Duration) + Send + Sync>;

/// A handle on one deployed version of a function; cheap to clone, safe to share.
///
/// Creating it loads nothing: code is loaded on the first call (or at once with `min_instances`).
#[derive(Clone)]
pub struct Function {
    inner: Arc<Inner>,
}

struct Inner {
    key: CodeKey,
    artifact_size: u64,
    grants: CapabilitySet,
    settings: FunctionSettings,
    limit: ConcurrencyLimit,
    live: Arc<AtomicUsize>,
    cold_starts: AtomicU64,
    cold_start_nanos: AtomicU64,
    refilling: AtomicBool,
    log: Arc<FunctionLog>,
    /// Responses cut off (or refused) at `max_response_body`.
    response_hits: Arc<AtomicU64>,
    config: Arc<WasiConfigVariables>,
    kv: KvCtx,
    messaging: MessagingCtx,
    egress: EgressCtx,
    cost: Arc<FunctionCost>,
    on_cold_start: Option<ColdStartHook>,
    /// Its account with the node's fair CPU share.
    cpu: Arc<Tenant>,
    /// Instance reuse, with `[scale] reuse = true` on a node that allows it.
    reuse: Option<ReusePolicy>,
    reuse_counts: Arc<ReuseCounts>,
    node: Arc<Node>,
}

/// A function's counters, read for the admin API and metrics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FunctionStats {
    /// Whether its code is loaded.
    pub warm: bool,
    /// Instances alive now: running a call or pre-instantiated and waiting.
    pub instances: usize,
    /// Calls running now.
    pub running: u32,
    /// Cold starts since this version was deployed or the gateway started.
    pub cold_starts: u64,
    /// Total time spent in those cold starts.
    pub cold_start_time: Duration,
    /// What it has cost the node since this version was deployed or the gateway started:
    /// memory held (code and instances) over time, the part held while calls ran, guest CPU
    /// time, its largest instance and its last cold start's phases.
    pub cost: CostTotals,
    /// Guest log lines dropped by the per-function rate limit.
    pub log_lines_dropped: u64,
    /// Calls stopped or refused at a per-call limit, by limit.
    pub limit_hits: LimitHits,
    /// Slices of CPU (epoch ticks) its calls ran past their first tick, handed out by the
    /// node's fair share (`pool.fair_share`).
    pub cpu_slices: u64,
    /// Times one of its long-running calls waited for a slice while other calls had the tick's
    /// CPU: the fair share holding it back. Zero with `pool.fair_share = false`.
    pub cpu_waits: u64,
    /// Instances kept after a clean call and waiting for the next (`[scale] reuse = true`);
    /// counted in `instances` too.
    pub kept_instances: usize,
    /// Calls served by a kept instance instead of a fresh one.
    pub reuses: u64,
}

/// Calls of one function that ran into a per-call limit, by limit; each call counts at most once
/// per limit, however often its guest kept trying.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitHits {
    /// Responses cut off, or refused with 502, at `max_response_body`.
    pub response_body: u64,
    /// Calls refused a message at `max_messages_per_call`.
    pub messages_per_call: u64,
    /// Instances refused a bucket at `max_open_buckets`.
    pub open_buckets: u64,
}

/// Whether a load is a cold start the keep-alive residency must admit (see `Function::load`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admit {
    /// A call's cold start.
    Yes,
    /// A pre-warm the residency asked for.
    No,
}

impl Function {
    pub(crate) fn new(node: Arc<Node>, spec: FunctionSpec) -> Self {
        let s = &spec.settings;
        let limit = ConcurrencyLimit::new(s.max_concurrency.min(s.max_instances), s.queue_timeout);
        let name: Arc<str> = spec.name.into();
        let (origin, params) = node.code.clock();
        let reuse_counts = Arc::new(ReuseCounts::default());
        let reuse = s.reuse.map(|bounds| ReusePolicy {
            bounds,
            most_kept: s.max_instances.min(s.max_concurrency) as usize,
            counts: reuse_counts.clone(),
        });
        let function = Function {
            inner: Arc::new(Inner {
                log: FunctionLog::new(name.clone(), node.guest_logs.ring(&name)),
                response_hits: Arc::new(AtomicU64::new(0)),
                config: Arc::new(spec.config.into_iter().collect()),
                kv: spec.kv.with_max_open_buckets(s.max_open_buckets),
                messaging: spec
                    .messaging
                    .with_max_messages_per_call(s.max_messages_per_call),
                egress: spec.egress,
                cost: Arc::new(FunctionCost::new(origin, params)),
                on_cold_start: spec.on_cold_start,
                key: CodeKey {
                    name,
                    artifact: spec.artifact,
                    generation: node.next_generation(),
                },
                artifact_size: spec.artifact_size,
                grants: spec.grants,
                settings: spec.settings,
                limit,
                live: Arc::new(AtomicUsize::new(0)),
                cold_starts: AtomicU64::new(0),
                cold_start_nanos: AtomicU64::new(0),
                refilling: AtomicBool::new(false),
                cpu: node.cpu.tenant(),
                reuse,
                reuse_counts,
                node,
            }),
        };
        let inner = &function.inner;
        let weak = Arc::downgrade(inner);
        let prewarm: Prewarm = Arc::new(move || {
            if let Some(inner) = weak.upgrade() {
                tokio::spawn(async move {
                    let function = Function { inner };
                    if let Err(e) = function.load(Admit::No).await {
                        tracing::debug!(function = %function.name(), error = %e, "pre-warm failed");
                    }
                });
            }
        });
        inner.node.code.register(
            inner.key.clone(),
            Registered {
                cost: Arc::downgrade(&inner.cost),
                idle_timeout: inner.settings.idle_timeout,
                pinned: inner.settings.min_instances > 0,
                prewarm,
            },
        );
        function
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.inner.key.name
    }

    /// The artifact this version runs.
    pub fn artifact(&self) -> Digest {
        self.inner.key.artifact
    }

    /// Capabilities this version was granted.
    pub fn grants(&self) -> CapabilitySet {
        self.inner.grants
    }

    /// Limits and scaling in force.
    pub fn settings(&self) -> &FunctionSettings {
        &self.inner.settings
    }

    /// Serves one HTTP request: waits for a concurrency slot, cold-starts if needed, runs the guest.
    pub async fn call<B>(&self, req: http::Request<B>) -> Result<http::Response<ResponseBody>>
    where
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let permit = self.inner.limit.acquire().await?;
        let warm = self.warm().await?;
        let kept = self.inner.reuse.as_ref().and_then(|p| warm.reuse.take(p));
        let instance = match kept {
            Some(kept) => Instance::Kept(kept),
            None => match warm.take_ready() {
                Some(ready) => {
                    self.refill(&warm);
                    Instance::Ready(ready)
                }
                None => Instance::Fresh(warm.store(&self.store_spec())),
            },
        };
        // Held until the guest is done: the slot, and the in-flight mark that keeps the code loaded
        // and starts the idle clock only when the work ends.
        let keep = (permit, warm.begin());
        let limits = CallLimits {
            timeout: self.inner.settings.timeout,
            max_response_body: self.inner.settings.max_response_body,
            response_hits: self.inner.response_hits.clone(),
            reuse: self.inner.reuse.clone(),
            kept: self.inner.node.kept.clone(),
        };
        call::call(warm, instance, limits, req, keep).await
    }

    /// Hands one message to the guest's `wasi:messaging/incoming-handler`, in a fresh instance,
    /// under the same concurrency limit and timeout as HTTP calls. The outer error is the host's
    /// or a trap; the inner one is the guest refusing the message.
    pub async fn handle_message(
        &self,
        message: Message,
    ) -> Result<std::result::Result<(), String>> {
        let permit = self.inner.limit.acquire().await?;
        let warm = self.warm().await?;
        let store = warm.store(&self.store_spec());
        let keep = (permit, warm.begin());
        call::handle_message(warm, store, self.inner.settings.timeout, message, keep).await
    }

    /// Loads the function now if it keeps `min_instances` ready; returns at once otherwise.
    pub async fn start(&self) -> Result<()> {
        if self.inner.settings.min_instances > 0 {
            let warm = self.warm().await?;
            self.refill(&warm);
        }
        Ok(())
    }

    /// Drops this version's loaded code and instances (after a replace or delete).
    pub async fn unload(&self) {
        self.inner.node.code.remove(&self.inner.key).await;
    }

    /// Whether its code is loaded (a call now would not cold-start).
    pub fn is_warm(&self) -> bool {
        self.inner.node.code.is_warm(&self.inner.key)
    }

    /// Current counters.
    pub fn stats(&self) -> FunctionStats {
        let inner = &self.inner;
        FunctionStats {
            warm: inner.node.code.is_warm(&inner.key),
            instances: inner.live.load(Ordering::Relaxed),
            running: inner.limit.running(),
            cold_starts: inner.cold_starts.load(Ordering::Relaxed),
            cold_start_time: Duration::from_nanos(inner.cold_start_nanos.load(Ordering::Relaxed)),
            cost: inner.cost.totals(),
            log_lines_dropped: inner.log.dropped(),
            limit_hits: LimitHits {
                response_body: inner.response_hits.load(Ordering::Relaxed),
                messages_per_call: inner.messaging.limit_hits(),
                open_buckets: inner.kv.limit_hits(),
            },
            cpu_slices: inner.cpu.slices(),
            cpu_waits: inner.cpu.waits(),
            kept_instances: inner.reuse_counts.kept.load(Ordering::Relaxed),
            reuses: inner.reuse_counts.reuses.load(Ordering::Relaxed),
        }
    }

    async fn warm(&self) -> Result<Arc<Warm>> {
        self.load(Admit::Yes).await
    }

    /// The loaded code, loading it if cold; with [`Admit::Yes`] a load this call did is admitted
    /// to the keep-alive residency (a cold start: who leaves to make room). A pre-warm passes
    /// [`Admit::No`]: the residency already counted its bytes when it asked for it, and admitting
    /// would restart its keep-alive from the pre-warm, as if it had been called (the simulator
    /// does not, and the live replay disagreed with it by that much).
    async fn load(&self, admit: Admit) -> Result<Arc<Warm>> {
        let inner = &self.inner;
        let load = async {
            // Only a cold start runs this block, and nothing in it awaits: the guard is its span.
            let span = crate::trace_context::cold_start_span(&inner.key.name);
            let _in_span = span.enter();
            let started = Instant::now();
            let node = &inner.node;
            let unavailable = |e: crate::Error| e.unavailable(&inner.key.name);
            let path = node
                .artifacts
                .verified_path(&inner.key.artifact)
                .map_err(unavailable)?;
            let warm = Warm::load(
                &node.engines,
                &node.linkers,
                inner.grants,
                &path,
                inner.artifact_size,
                &inner.cost,
            )
            .map_err(unavailable)?;
            let took = started.elapsed();
            if let Some(hook) = &inner.on_cold_start {
                hook(took);
            }
            let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
            inner.cold_starts.fetch_add(1, Ordering::Relaxed);
            inner.cold_start_nanos.fetch_add(nanos, Ordering::Relaxed);
            tracing::debug!(function = %inner.key.name, micros = nanos / 1000, "cold start");
            Ok(warm)
        };
        let (warm, loaded) = inner.node.code.get_or_load(&inner.key, load).await?;
        if loaded && admit == Admit::Yes {
            inner.node.code.admitted(&inner.key, &warm).await;
        }
        Ok(warm)
    }

    fn store_spec(&self) -> StoreSpec<'_> {
        let inner = &self.inner;
        StoreSpec {
            memory: inner.settings.memory,
            grants: inner.grants,
            log: &inner.log,
            config: &inner.config,
            kv: &inner.kv,
            messaging: &inner.messaging,
            live: &inner.live,
            egress: &inner.egress,
            cpu: &inner.cpu,
            cost: &inner.cost,
        }
    }

    /// Tops the pre-instantiated set back up to `min_instances` in the background.
    fn refill(&self, warm: &Arc<Warm>) {
        let min = self.inner.settings.min_instances as usize;
        if min == 0 || self.inner.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let warm = warm.clone();
        tokio::spawn(async move {
            while warm.ready_len() < min {
                let store = warm.store(&this.store_spec());
                match call::prepare(&warm, store).await {
                    Ok(ready) => warm.put_ready(ready),
                    Err(e) => {
                        tracing::warn!(function = %this.name(), error = %e, "pre-instantiation failed");
                        break;
                    }
                }
            }
            this.inner.refilling.store(false, Ordering::Release);
        });
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last handle of this version is gone: the policy forgets it.
        self.node.code.unregister(&self.key);
    }
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function")
            .field("name", &self.name())
            .field("artifact", &self.artifact())
            .finish_non_exhaustive()
    }
}
