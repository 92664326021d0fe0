//! A function's loaded, linked state: what a cold start builds and scale-to-zero drops.

use crate::cost::FunctionCost;
use crate::cpu_share::Tenant;
use crate::error::{Error, Result};
use crate::guest_log::FunctionLog;
use crate::host::Host;
use crate::linkers::Linkers;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate_capabilities::KvCtx;
use wasmgate_capabilities::egress::EgressCtx;
use wasmgate_capabilities::messaging::MessagingCtx;
use wasmgate_config::CapabilitySet;
use wasmgate_config::WasiVersion;
use wasmtime::Store;
use wasmtime::component::{Component, InstancePre};
use wasmtime_wasi_config::WasiConfigVariables;
use wasmtime_wasi_http::handler::{Proxy, ProxyPre};
use wasmtime_wasi_http::{p2, p3};

/// A function's code mapped into memory, linked once, plus any pre-instantiated instances.
pub(crate) struct Warm {
    /// The component linked once; every instance of any kind comes from it.
    pub(crate) instance: InstancePre<Host>,
    /// The same, typed for `wasi:http/incoming-handler@0.2` or `wasi:http/handler@0.3`; `None`
    /// for message-only components.
    pub(crate) http: Option<ProxyPre<Host>>,
    /// Bytes of loaded code, charged against the node's code budget.
    pub(crate) code_bytes: u64,
    ready: Mutex<Vec<Ready>>,
    /// Instances kept after a clean call, with `[scale] reuse = true`; dropped with the code.
    pub(crate) reuse: crate::reuse::ReuseSet,
    /// The function's cost account, charged `code_bytes` while this exists.
    pub(crate) cost: Arc<FunctionCost>,
    /// How long mapping the artifact and linking it took.
    pub(crate) load_time: Duration,
    pub(crate) link_time: Duration,
    /// Set until the first call on this code takes it: that call measures the rest of the cold
    /// start (instantiate, first response).
    first_call: AtomicBool,
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.cost
            .change(-i64::try_from(self.code_bytes).unwrap_or(i64::MAX));
    }
}

/// Marks one call in flight on a [`Warm`]; ending it records the activity.
pub(crate) struct Activity(Arc<Warm>);

impl Drop for Activity {
    fn drop(&mut self) {
        let warm = &self.0;
        warm.cost.call_ended();
    }
}

/// What every store of one function is made with.
pub(crate) struct StoreSpec<'a> {
    pub(crate) memory: u64,
    pub(crate) grants: CapabilitySet,
    pub(crate) log: &'a Arc<FunctionLog>,
    pub(crate) config: &'a Arc<WasiConfigVariables>,
    pub(crate) kv: &'a KvCtx,
    pub(crate) messaging: &'a MessagingCtx,
    pub(crate) live: &'a Arc<AtomicUsize>,
    pub(crate) egress: &'a EgressCtx,
    pub(crate) cpu: &'a Arc<Tenant>,
    pub(crate) cost: &'a Arc<FunctionCost>,
}

/// An instance made ahead of demand, waiting for its one request.
pub(crate) struct Ready {
    pub(crate) store: Store<Host>,
    pub(crate) proxy: Proxy,
}

impl Warm {
    /// Maps the artifact at `path` and links it, with the linker for `grants` in the WASI release
    /// it targets: the whole of a cold start but instantiation.
    pub(crate) fn load(
        engines: &crate::engine::Engines,
        linkers: &Linkers,
        grants: CapabilitySet,
        path: &Path,
        code_bytes: u64,
        cost: &Arc<FunctionCost>,
    ) -> Result<Self> {
        let started = Instant::now();
        // SAFETY: `path` comes from `ContentStore::verified_path`: a file this gateway compiled and
        // wrote itself (or adopted from a node whose key it trusts, signed over this engine's
        // fingerprint and the bytes' sha256), named by the sha256 of its bytes and checked
        // against that name on first load.
        #[expect(
            unsafe_code,
            reason = "loading our own precompiled, content-addressed artifact"
        )]
        // An artifact loads only into the engine it was compiled for (wasmtime checks the
        // engine's settings first, before mapping code): a WASI 0.2 one into `p2`, else `p3`.
        let component = unsafe { Component::deserialize_file(&engines.p2, path) }
            .or_else(|_| unsafe { Component::deserialize_file(&engines.p3, path) })
            .map_err(|e| Error::artifact(path, format!("{e:#}")))?;
        let load_time = started.elapsed();
        let linking = Instant::now();
        let engine = component.engine();
        let wasi =
            crate::linkers::wasi_target(engine, &component).map_or(WasiVersion::P2, |t| t.version);
        let linker = linkers.get(grants, wasi)?;
        let instance = linker.instantiate_pre(&component).map_err(Error::engine)?;
        let http = match wasi {
            WasiVersion::P2 => p2::bindings::ProxyPre::new(instance.clone())
                .ok()
                .map(ProxyPre::P2),
            WasiVersion::P3 => p3::bindings::ServicePre::new(instance.clone())
                .ok()
                .map(ProxyPre::P3),
        };
        let link_time = linking.elapsed();
        cost.change(i64::try_from(code_bytes).unwrap_or(i64::MAX));
        Ok(Warm {
            cost: cost.clone(),
            load_time,
            link_time,
            first_call: AtomicBool::new(true),
            instance,
            http,
            code_bytes,
            ready: Mutex::new(Vec::new()),
            reuse: Default::default(),
        })
    }

    /// Marks a call as running until the returned guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> Activity {
        self.cost.call_began();
        Activity(self.clone())
    }

    /// Whether this is the first call on this code (true once): it measures the cold start's
    /// remaining phases.
    pub(crate) fn first_call(&self) -> bool {
        self.first_call.load(Ordering::Relaxed) && self.first_call.swap(false, Ordering::AcqRel)
    }

    /// A new store for one instance of this function, counted in `spec.live` while it exists.
    pub(crate) fn store(&self, spec: &StoreSpec<'_>) -> Store<Host> {
        let host = Host::new(spec);
        let mut store = Store::new(self.instance.engine(), host);
        store.limiter(|host| &mut host.limits);
        // Yield to the runtime at every epoch tick, so a spinning guest never holds a runtime
        // thread; past its first tick, run only in the slices the node's fair share hands out.
        store.epoch_deadline_callback(|mut cx| Ok(cx.data_mut().cpu.at_deadline()));
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
