//! Node-wide state shared by every function: engine, linkers, artifacts, loaded code, CPU shares.

use crate::code_cache::CodeCache;
use crate::content_store::ContentStore;
use crate::cpu_share::CpuShare;
use crate::engine::{Engines, EpochTicker};
use crate::linkers::Linkers;
use crate::log_ring::GuestLogs;
use crate::reuse::KeptSets;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything one gateway process shares across its functions.
pub(crate) struct Node {
    pub(crate) engines: Engines,
    pub(crate) linkers: Linkers,
    pub(crate) artifacts: ContentStore,
    /// [`Engines::fingerprint`], computed once.
    pub(crate) fingerprint: String,
    pub(crate) code: CodeCache,
    /// Slices of CPU for long-running calls, shared fairly between functions.
    pub(crate) cpu: Arc<CpuShare>,
    /// Every function's instances kept for reuse, given back when the pooling slots run out.
    pub(crate) kept: Arc<KeptSets>,
    pub(crate) _ticker: EpochTicker,
    pub(crate) generations: AtomicU64,
    /// Every function's recent guest log lines.
    pub(crate) guest_logs: GuestLogs,
}

impl Node {
    /// A number no other function handle of this process has.
    pub(crate) fn next_generation(&self) -> u64 {
        self.generations.fetch_add(1, Ordering::Relaxed)
    }
}
