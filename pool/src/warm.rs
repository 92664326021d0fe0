//! A function's loaded, linked state: what a cold start builds and scale-to-zero drops.

use crate::error::{Error, Result};
use crate::host::{Host, LiveInstance};
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Engine, Store};
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};

/// A function's code mapped into memory, linked once, plus any pre-instantiated instances.
pub(crate) struct Warm {
    pub(crate) pre: ProxyPre<Host>,
    /// Bytes of loaded code, charged against the node's code budget.
    pub(crate) code_bytes: u64,
    /// How long this may sit unused before it is dropped; `None` pins it (`min_instances > 0`).
    pub(crate) idle_timeout: Option<Duration>,
    ready: Mutex<Vec<Ready>>,
}

/// An instance made ahead of demand, waiting for its one request.
pub(crate) struct Ready {
    pub(crate) store: Store<Host>,
    pub(crate) proxy: Proxy,
}

impl Warm {
    /// Maps the artifact at `path` and links it: the whole of a cold start but instantiation.
    pub(crate) fn load(
        engine: &Engine,
        linker: &Linker<Host>,
        path: &Path,
        code_bytes: u64,
        idle_timeout: Option<Duration>,
    ) -> Result<Self> {
        // SAFETY: `path` comes from `ArtifactStore::verified_path`: a file this gateway compiled and
        // wrote itself, named by the sha256 of its bytes and checked against that name on first load.
        #[expect(
            unsafe_code,
            reason = "loading our own precompiled, content-addressed artifact"
        )]
        let component = unsafe { Component::deserialize_file(engine, path) }
            .map_err(|e| Error::artifact(path, format!("{e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(ProxyPre::new)
            .map_err(Error::engine)?;
        Ok(Warm {
            pre,
            code_bytes,
            idle_timeout,
            ready: Mutex::new(Vec::new()),
        })
    }

    /// A new store for one instance of this function, counted in `live` while it exists.
    pub(crate) fn store(&self, memory: u64, live: &Arc<AtomicUsize>) -> Store<Host> {
        let mut store = Store::new(
            self.pre.engine(),
            Host::new(memory, LiveInstance::new(live)),
        );
        store.limiter(|host| &mut host.limits);
        // Yield to the runtime at every epoch tick: a spinning guest never holds a runtime thread.
        store.epoch_deadline_async_yield_and_update(1);
        store
    }

    /// Takes a pre-instantiated instance, if one is waiting.
    pub(crate) fn take_ready(&self) -> Option<Ready> {
        self.ready.lock().ok()?.pop()
    }

    /// Instances currently waiting.
    pub(crate) fn ready_len(&self) -> usize {
        self.ready.lock().map(|r| r.len()).unwrap_or(0)
    }

    /// Adds a pre-instantiated instance to the waiting set.
    pub(crate) fn put_ready(&self, ready: Ready) {
        if let Ok(mut set) = self.ready.lock() {
            set.push(ready);
        }
    }
}
