//! The data each guest store carries, and the linker that exposes host interfaces to guests.

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Store data of one guest instance: WASI and HTTP contexts, its resource table and memory limits.
///
/// Holds a [`LiveInstance`] so the function's instance count is exact whatever way the store ends.
pub struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    pub(crate) limits: StoreLimits,
    _live: LiveInstance,
}

impl Host {
    /// Fresh per-instance state with linear memory capped at `memory` bytes.
    pub(crate) fn new(memory: u64, live: LiveInstance) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(memory).unwrap_or(usize::MAX))
            .trap_on_grow_failure(true)
            .build();
        Host {
            // Guest stdio goes to the gateway's stderr until per-request log capture exists.
            wasi: WasiCtx::builder().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits,
            _live: live,
        }
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// Builds the linker every function is linked against once, at cold start.
pub(crate) fn linker(engine: &Engine) -> Result<Linker<Host>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(Error::engine)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(Error::engine)?;
    Ok(linker)
}

/// Counts one live instance of a function for as long as it exists.
#[derive(Debug)]
pub(crate) struct LiveInstance(Arc<AtomicUsize>);

impl LiveInstance {
    pub(crate) fn new(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        LiveInstance(counter.clone())
    }
}

impl Drop for LiveInstance {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
