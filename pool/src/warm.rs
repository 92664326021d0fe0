//! A function's loaded, linked state: what a cold start builds and scale-to-zero drops.

use crate::cpu_share::Tenant;
use crate::error::{Error, Result};
use crate::guest_log::FunctionLog;
use crate::host::Host;
use crate::linkers::Linkers;
use crate::memory_held::MemoryHeld;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
    /// How long this may sit unused before it is dropped; `None` pins it (`min_instances > 0`).
    pub(crate) idle_timeout: Option<Duration>,
    ready: Mutex<Vec<Ready>>,
    /// Instances kept after a clean call, with `[scale] reuse = true`; dropped with the code.
    pub(crate) reuse: crate::reuse::ReuseSet,
    /// Calls running on this code now; while non-zero it is never idle.
    in_flight: AtomicUsize,
    /// When it was loaded; `last_active` counts from here.
    loaded_at: Instant,
    /// Nanoseconds after `loaded_at` at which the last call ended.
    last_active: AtomicU64,
    /// The function's byte-seconds account, charged `code_bytes` while this exists.
    held: Arc<MemoryHeld>,
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.held
            .change(-i64::try_from(self.code_bytes).unwrap_or(i64::MAX));
    }
}

/// Marks one call in flight on a [`Warm`]; ending it records the activity.
pub(crate) struct Activity(Arc<Warm>);

impl Drop for Activity {
    fn drop(&mut self) {
        let warm = &self.0;
        let nanos = u64::try_from(warm.loaded_at.elapsed().as_nanos()).unwrap_or(u64::MAX);
        warm.last_active.fetch_max(nanos, Ordering::Relaxed);
        warm.in_flight.fetch_sub(1, Ordering::AcqRel);
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
        idle_timeout: Option<Duration>,
        held: &Arc<MemoryHeld>,
    ) -> Result<Self> {
        // SAFETY: `path` comes from `ContentStore::verified_path`: a file this gateway compiled and
        // wrote itself, named by the sha256 of its bytes and checked against that name on first load.
        #[expect(
            unsafe_code,
            reason = "loading our own precompiled, content-addressed artifact"
        )]
        // An artifact loads only into the engine it was compiled for (wasmtime checks the
        // engine's settings first, before mapping code): a WASI 0.2 one into `p2`, else `p3`.
        let component = unsafe { Component::deserialize_file(&engines.p2, path) }
            .or_else(|_| unsafe { Component::deserialize_file(&engines.p3, path) })
            .map_err(|e| Error::artifact(path, format!("{e:#}")))?;
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
        held.change(i64::try_from(code_bytes).unwrap_or(i64::MAX));
        Ok(Warm {
            held: held.clone(),
            instance,
            http,
            code_bytes,
            idle_timeout,
            ready: Mutex::new(Vec::new()),
            reuse: Default::default(),
            in_flight: AtomicUsize::new(0),
            loaded_at: Instant::now(),
            last_active: AtomicU64::new(0),
        })
    }

    /// Marks a call as running until the returned guard drops.
    pub(crate) fn begin(self: &Arc<Self>) -> Activity {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Activity(self.clone())
    }

    /// Whether nothing runs on it and nothing has for its idle timeout (never, when pinned).
    pub(crate) fn is_idle(&self, now: Instant) -> bool {
        let Some(timeout) = self.idle_timeout else {
            return false;
        };
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return false;
        }
        let last = self.loaded_at + Duration::from_nanos(self.last_active.load(Ordering::Relaxed));
        now.saturating_duration_since(last) >= timeout
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
