//! Node-wide state shared by every function: engine, linker, artifacts, loaded code.

use crate::artifact_store::ArtifactStore;
use crate::code_cache::CodeCache;
use crate::engine::EpochTicker;
use crate::host::Host;
use wasmtime::Engine;
use wasmtime::component::Linker;

/// Everything one gateway process shares across its functions.
pub(crate) struct Node {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<Host>,
    pub(crate) artifacts: ArtifactStore,
    pub(crate) code: CodeCache,
    pub(crate) _ticker: EpochTicker,
}
