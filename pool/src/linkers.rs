//! One linker per set of granted capabilities and WASI release: a function is linked only against
//! what it was granted, in the release it was built for.
//!
//! Few distinct grant sets exist on a node, so each linker is built once, on first use, and shared.

use crate::error::{Error, Result};
use crate::host::Host;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use wasmgate_config::{Capability, CapabilitySet, WasiTarget, WasiVersion};
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};
use wasmtime_wasi_http::{WasiHttp, WasiHttpView};

/// What one linker provides: the granted capabilities, in one WASI release.
type Key = (CapabilitySet, WasiVersion);

/// The linkers built so far, by grant set and WASI release.
pub(crate) struct Linkers {
    engines: crate::engine::Engines,
    built: Mutex<HashMap<Key, Arc<Linker<Host>>>>,
}

impl Linkers {
    pub(crate) fn new(engines: &crate::engine::Engines) -> Self {
        Linkers {
            engines: engines.clone(),
            built: Mutex::new(HashMap::new()),
        }
    }

    /// The linker for `grants` in `wasi`, built on first request.
    pub(crate) fn get(
        &self,
        grants: CapabilitySet,
        wasi: WasiVersion,
    ) -> Result<Arc<Linker<Host>>> {
        let mut built = self
            .built
            .lock()
            .map_err(|_| Error::engine(wasmtime::format_err!("linker cache poisoned")))?;
        if let Some(linker) = built.get(&(grants, wasi)) {
            return Ok(linker.clone());
        }
        let linker = Arc::new(build(self.engines.of(wasi), grants, wasi)?);
        built.insert((grants, wasi), linker.clone());
        Ok(linker)
    }
}

/// Links the baseline (WASI CLI, clocks, random, I/O, an empty filesystem, HTTP types), the
/// standard network interfaces (`wasi:http/outgoing-handler`, `wasi:sockets`: without their grant
/// the egress guard and [`Host`] deny every destination) plus each granted capability the host
/// implements.
///
/// A WASI 0.3 component gets the 0.3 interfaces (CLI, clocks, random, filesystem, sockets,
/// `wasi:http/types`, and `wasi:http/client` with `http-outgoing`) on top of all of 0.2's: Rust's
/// std for wasm32-wasip2 imports 0.2 interfaces even in a 0.3 component.
fn build(engine: &Engine, grants: CapabilitySet, wasi: WasiVersion) -> Result<Linker<Host>> {
    use wasmtime_wasi_http::p2::bindings::http;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(Error::engine)?;
    // Over wasmtime-wasi's own: its debug strings would show guests the host's backtraces.
    crate::io_error::add_to_linker(&mut linker).map_err(Error::engine)?;
    let options = wasmtime_wasi_http::p2::bindings::LinkOptions::default();
    http::types::add_to_linker::<_, WasiHttp>(&mut linker, &options.into(), Host::http)
        .map_err(Error::engine)?;
    // Linked for every function; without the grant the egress guard denies every request.
    http::outgoing_handler::add_to_linker::<_, WasiHttp>(&mut linker, Host::http)
        .map_err(Error::engine)?;
    if wasi == WasiVersion::P3 {
        link_p3(&mut linker).map_err(Error::engine)?;
    }
    if grants.contains(Capability::Keyvalue) {
        wasmgate_capabilities::add_to_linker(&mut linker, Host::kv).map_err(Error::engine)?;
    }
    if grants.contains(Capability::Messaging) {
        wasmgate_capabilities::messaging::add_to_linker(&mut linker, Host::messaging)
            .map_err(Error::engine)?;
    }
    if grants.contains(Capability::Config) {
        wasmtime_wasi_config::add_to_linker(&mut linker, Host::config).map_err(Error::engine)?;
    }
    Ok(linker)
}

/// The WASI 0.3 interfaces: wasmtime-wasi's, `wasi:http/types`, and `wasi:http/client` (denied
/// without the grant, like 0.2's outgoing handler). Outgoing requests go through the same [`WasiHttpHooks`](wasmtime_wasi_http::WasiHttpHooks)
/// as 0.2's, so through the function's egress guard.
fn link_p3(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    use wasmtime_wasi_http::p3::bindings::http;
    wasmtime_wasi::p3::add_to_linker(linker)?;
    http::types::add_to_linker::<_, WasiHttp>(linker, Host::http)?;
    // Like 0.2's outgoing handler: linked for every function, denied without the grant.
    http::client::add_to_linker::<_, WasiHttp>(linker, Host::http)?;
    Ok(())
}

/// Interfaces `component` imports that `grants` does not cover, sorted: a deploy-time refusal.
pub(crate) fn ungranted(
    engine: &Engine,
    component: &Component,
    grants: CapabilitySet,
) -> Vec<String> {
    let mut out: Vec<String> = component
        .component_type()
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .filter(|name| Capability::needed_by(name).refused(|cap| grants.contains(cap)))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The WASI release `component` targets, told from its exports and imports; `None` when nothing
/// names one (it is then linked as 0.2, which refuses what it cannot link).
pub(crate) fn wasi_target(engine: &Engine, component: &Component) -> Option<WasiTarget> {
    let ty = component.component_type();
    let exports: Vec<&str> = ty.exports(engine).map(|(name, _)| name).collect();
    let imports: Vec<&str> = ty.imports(engine).map(|(name, _)| name).collect();
    WasiTarget::detect(exports, imports)
}
