//! Deploy-time compilation: validate an uploaded component and turn it into a stored artifact.

use crate::content_store::ContentStore;
use crate::digest::Digest;
use crate::engine::Engines;
use crate::error::{Error, Result};
use crate::linkers::{self, Linkers};
use std::time::{Duration, Instant};
use wasmgate_config::{CapabilitySet, WasiTarget, WasiVersion};
use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime_wasi_http::{p2, p3};

/// What a successful deploy-time compilation produced.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// sha256 of the uploaded module bytes: what users see as the function's digest.
    pub module: Digest,
    /// Size of the uploaded module in bytes.
    pub module_size: u64,
    /// sha256 of the precompiled artifact: its name in the artifact store.
    pub artifact: Digest,
    /// Size of the precompiled artifact in bytes (what loading it maps into memory).
    pub artifact_size: u64,
    /// Wall time spent compiling.
    pub compile_time: Duration,
    /// The WASI release it targets, when its exports or imports name one.
    pub wasi: Option<WasiTarget>,
}

/// Validates `module`, compiles it once and stores the artifact durably.
///
/// Refuses, as [`Error::NotGranted`], a component importing a capability it was not granted, and
/// as [`Error::InvalidComponent`] anything that is not a component, targets a WASI release this
/// gateway does not implement (a 0.3 release candidate), exports neither
/// `wasi:http/incoming-handler@0.2` nor `wasi:http/handler@0.3` (nor a message handler), or
/// imports something the host cannot link: a deploy either yields a function that can start, or
/// changes nothing.
///
/// A component is compiled for the engine of its WASI release ([`Engines`]): first for the WASI
/// 0.2 engine, whose validation refuses the async ABI at once, then, when that refuses it or its
/// imports and exports say WASI 0.3, for the 0.3 engine.
pub(crate) fn compile(
    engines: &Engines,
    linkers: &Linkers,
    grants: CapabilitySet,
    store: &ContentStore,
    module: &[u8],
) -> Result<Compiled> {
    check_header(module)?;
    let started = Instant::now();
    let invalid = |e: wasmtime::Error| Error::InvalidComponent {
        reason: format!("{e:#}"),
    };
    let mut component = match Component::new(&engines.p2, module) {
        Ok(component) => component,
        Err(_) => Component::new(&engines.p3, module).map_err(invalid)?,
    };
    let wasi = linkers::wasi_target(component.engine(), &component);
    if let Some(Err(reason)) = wasi.as_ref().map(WasiTarget::served) {
        return Err(Error::InvalidComponent { reason });
    }
    let version = wasi.as_ref().map_or(WasiVersion::P2, |t| t.version);
    if !Engine::same(component.engine(), engines.of(version)) {
        component = Component::new(engines.of(version), module).map_err(invalid)?;
    }
    let compile_time = started.elapsed();
    validate(linkers, grants, &component, version)?;
    let artifact_bytes = component.serialize().map_err(Error::engine)?;
    let artifact = store.write(&artifact_bytes)?;
    Ok(Compiled {
        module: Digest::of(module),
        module_size: module.len() as u64,
        artifact,
        artifact_size: artifact_bytes.len() as u64,
        compile_time,
        wasi,
    })
}

/// Checks that an artifact another node compiled loads into one of `engines` and passes what a
/// compile checks (a WASI release this gateway serves, only granted imports, links, exports a
/// handler), then writes it into `store`; returns its digest. A failure writes nothing.
///
/// The caller has checked already that a node it trusts signed these bytes for this engine's
/// fingerprint (`Component::deserialize` trusts its input completely: never call this with bytes
/// whose origin is unchecked).
pub(crate) fn adopt(
    engines: &Engines,
    linkers: &Linkers,
    grants: CapabilitySet,
    store: &ContentStore,
    bytes: &[u8],
) -> Result<Digest> {
    check_adopted(engines, linkers, grants, bytes)?;
    store.write(bytes)
}

/// Loads the checked `bytes` (in memory: what was hashed is what is loaded) and validates them
/// as a compile does.
fn check_adopted(
    engines: &Engines,
    linkers: &Linkers,
    grants: CapabilitySet,
    bytes: &[u8],
) -> Result<()> {
    // SAFETY: the bytes are signed by a node key the operator trusts, over this engine's
    // fingerprint and their sha256, which the caller checked on these very bytes.
    #[expect(
        unsafe_code,
        reason = "loading an artifact a trusted node signed, checked against its digest"
    )]
    let component = unsafe { Component::deserialize(&engines.p2, bytes) }
        .or_else(|_| unsafe { Component::deserialize(&engines.p3, bytes) })
        .map_err(|e| Error::InvalidComponent {
            reason: format!("a shared artifact does not load into this engine: {e:#}"),
        })?;
    let wasi = linkers::wasi_target(component.engine(), &component);
    if let Some(Err(reason)) = wasi.as_ref().map(WasiTarget::served) {
        return Err(Error::InvalidComponent { reason });
    }
    let version = wasi.as_ref().map_or(WasiVersion::P2, |t| t.version);
    validate(linkers, grants, &component, version)
}

/// What a compiled or adopted component must pass before it may serve: it imports only what
/// `grants` allows, links with the host's linker for its WASI `version`, and exports an HTTP or
/// a message handler.
fn validate(
    linkers: &Linkers,
    grants: CapabilitySet,
    component: &Component,
    version: WasiVersion,
) -> Result<()> {
    let engine = component.engine();
    let missing = linkers::ungranted(engine, component, grants);
    if !missing.is_empty() {
        return Err(Error::NotGranted {
            interfaces: missing,
        });
    }
    let pre = linkers
        .get(grants, version)?
        .instantiate_pre(component)
        .map_err(|e| Error::InvalidComponent {
            reason: format!("cannot be linked: {e:#}"),
        })?;
    // A function answers HTTP, handles messages, or both.
    let handles_messages = component
        .component_type()
        .exports(engine)
        .any(|(name, _)| name.starts_with(MESSAGE_HANDLER));
    let http = match version {
        WasiVersion::P2 => p2::bindings::ProxyPre::new(pre).map(|_| ()),
        WasiVersion::P3 => p3::bindings::ServicePre::new(pre).map(|_| ()),
    };
    if let Err(e) = http
        && !handles_messages
    {
        return Err(Error::InvalidComponent {
            reason: format!(
                "exports neither wasi:http/incoming-handler@0.2, wasi:http/handler@0.3 nor {MESSAGE_HANDLER}@0.2.0-draft: {e:#}"
            ),
        });
    }
    Ok(())
}

/// The export that makes a component an event handler.
const MESSAGE_HANDLER: &str = "wasi:messaging/incoming-handler";

/// Tells a core module or arbitrary bytes from a component before spending time compiling.
fn check_header(module: &[u8]) -> Result<()> {
    if wasmparser::Parser::is_component(module) {
        return Ok(());
    }
    let reason = if wasmparser::Parser::is_core_wasm(module) {
        "this is a core wasm module, not a component: build for wasm32-wasip2 or run `wasm-tools component new`"
    } else {
        "not a WebAssembly binary (missing the `\\0asm` header)"
    };
    Err(Error::InvalidComponent {
        reason: reason.into(),
    })
}
