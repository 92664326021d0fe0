//! The front door of the crate: one per gateway process.

use crate::code_cache::{CodeCache, Evictions};
use crate::compile::{self, Compiled};
use crate::content_store::{ContentStore, Kind};
use crate::cpu_share::CpuShare;
use crate::digest::Digest;
use crate::engine::{Engines, EpochTicker};
use crate::error::Result;
use crate::function::{Function, FunctionSpec};
use crate::linkers::Linkers;
use crate::log_ring::LogRing;
use crate::node::Node;
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;
use wasmgate_config::{CapabilitySet, PoolSettings};
use wasmgate_policy::{KeepAlivePolicy, PatternParams};

/// How often the keep-alive policy looks for expired code and due pre-warms: the precision of
/// every keep-alive window.
const HOUSEKEEPING_INTERVAL: Duration = Duration::from_millis(250);

/// Compiles, stores, loads and runs functions on this node.
#[derive(Clone)]
pub struct Pool {
    node: Arc<Node>,
}

impl Pool {
    /// Builds the engine and opens the artifact store in `artifact_dir`.
    ///
    /// Must be called inside a tokio runtime: it starts the housekeeping task that releases idle code,
    /// and sizes the fair CPU share of long-running calls from that runtime's worker threads.
    pub fn open(settings: &PoolSettings, artifact_dir: &Path) -> Result<Self> {
        let engines = Engines::build(settings)?;
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let cpu = CpuShare::new(settings.fair_share, CpuShare::lanes_for(workers));
        let node = Arc::new(Node {
            _ticker: EpochTicker::start(engines.clone(), settings.epoch_tick.get(), cpu.clone())?,
            cpu,
            linkers: Linkers::new(&engines),
            artifacts: ContentStore::open(artifact_dir, Kind::Artifacts)?,
            fingerprint: engines.fingerprint(),
            code: CodeCache::new(settings.code_budget.bytes()),
            engines,
            generations: AtomicU64::new(0),
            kept: Default::default(),
            guest_logs: Default::default(),
        });
        tokio::spawn(housekeeping(Arc::downgrade(&node)));
        Ok(Pool { node })
    }

    /// Validates and precompiles `module` for a function granted `grants`, storing the artifact
    /// durably. CPU-heavy: call it from a blocking thread.
    pub fn compile(&self, module: &[u8], grants: CapabilitySet) -> Result<Compiled> {
        compile::compile(
            &self.node.engines,
            &self.node.linkers,
            grants,
            &self.node.artifacts,
            module,
        )
    }

    /// What this node's compiled code depends on (wasmtime version, CPU features, compiler
    /// settings, tunables such as `pool.memory_guard`), as 64 hex characters. Record it with an
    /// artifact: an artifact recorded with another fingerprint must be rebuilt before it serves.
    pub fn engine_fingerprint(&self) -> &str {
        &self.node.fingerprint
    }

    /// Total bytes of the stored artifacts.
    pub fn artifacts_total_bytes(&self) -> Result<u64> {
        self.node.artifacts.total_bytes()
    }

    /// A handle for running a deployed version; loads nothing until first used.
    pub fn function(&self, spec: FunctionSpec) -> Function {
        Function::new(self.node.clone(), spec)
    }

    /// The bytes of a stored artifact as they are on disk, for sharing with other nodes.
    pub fn artifact_bytes(&self, artifact: &Digest) -> Result<Vec<u8>> {
        self.node.artifacts.read(artifact)
    }

    /// Checks that an artifact another node compiled for this engine loads and passes what a
    /// compile checks of a component granted `grants`, then stores it; returns its digest.
    /// Blocking.
    ///
    /// Only for bytes whose origin the caller has checked (a trusted node's signature over this
    /// engine's fingerprint and their sha256): loading an artifact runs its code unchecked.
    /// Errors as [`Pool::compile`] for ungranted imports or linking, or an artifact error when
    /// this engine cannot load the bytes.
    pub fn adopt_artifact(&self, bytes: &[u8], grants: CapabilitySet) -> Result<Digest> {
        compile::adopt(
            &self.node.engines,
            &self.node.linkers,
            grants,
            &self.node.artifacts,
            bytes,
        )
    }

    /// Size in bytes of a stored artifact.
    pub fn artifact_size(&self, artifact: &Digest) -> Result<u64> {
        self.node.artifacts.size(artifact)
    }

    /// Deletes stored artifacts not in `live`; returns how many were removed.
    pub fn retain_artifacts(&self, live: &HashSet<Digest>) -> Result<usize> {
        self.node.artifacts.retain(live)
    }

    /// Deletes one stored artifact (a version no function uses any more).
    pub fn remove_artifact(&self, artifact: &Digest) -> Result<()> {
        self.node.artifacts.remove(artifact)
    }

    /// Bytes of code loaded right now, across all functions.
    pub fn loaded_code_bytes(&self) -> u64 {
        self.node.code.loaded_bytes()
    }

    /// The node's memory as its keep-alive policy sees it, in bytes: what the policy wants
    /// resident of the functions `counted` selects by name (all of them on a single node; in a
    /// cluster those this node is home for), and the budget (`[pool] code_budget`). Its
    /// `demand / budget` is the memory side of the nodes a load needs
    /// ([`Placement::nodes_for_memory`](wasmgate_policy::Placement::nodes_for_memory)). O(n) in
    /// the functions holding memory, under the keep-alive lock: for scrapes and heartbeats.
    pub fn keep_alive_memory(&self, counted: impl FnMut(&str) -> bool) -> wasmgate_policy::Memory {
        self.node.code.memory(counted)
    }

    /// The recent guest log lines of function `name` (every version of it that runs here), to
    /// read or follow; `None` when no version of it runs on this node.
    pub fn guest_log(&self, name: &str) -> Option<Arc<LogRing>> {
        self.node.guest_logs.get(name)
    }

    /// Drops the recent guest log lines of `name` (it was deleted): its followers end, and a later
    /// deploy of the name starts with an empty ring.
    pub fn forget_guest_log(&self, name: &str) {
        self.node.guest_logs.forget(name);
    }

    /// Number of functions whose code is loaded right now.
    pub fn warm_functions(&self) -> u64 {
        self.node.code.loaded_count()
    }

    /// Why loaded code has left memory so far.
    pub fn evictions(&self) -> &Evictions {
        self.node.code.evictions()
    }

    /// Runs `policy` (`[keepalive] policy`) from now on, with call patterns measured
    /// `time_scale` times faster than real time (`[keepalive] time_scale`: 1 for real traffic).
    /// Call it right after [`Pool::open`], before creating functions.
    pub fn set_keep_alive(&self, policy: KeepAlivePolicy, time_scale: f64) {
        self.node
            .code
            .set_policy(policy, PatternParams::compressed(time_scale));
    }

    /// Drops every instance kept for reuse, across all functions, and returns how many: the
    /// cheapest memory to give back under pressure (each is one instantiation away). Done by the
    /// node itself when its pooling slots run out.
    pub fn release_kept_instances(&self) -> usize {
        self.node.kept.shed()
    }

    /// Releases expired code (and starts due pre-warms) now rather than at the next
    /// housekeeping tick.
    pub async fn run_pending_tasks(&self) {
        self.node.code.sweep().await;
        self.node.code.run_pending_tasks().await;
    }
}

async fn housekeeping(node: Weak<Node>) {
    let mut tick = tokio::time::interval(HOUSEKEEPING_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(node) = node.upgrade() else { return };
        node.code.sweep().await;
        node.code.run_pending_tasks().await;
    }
}
