//! The data each guest store carries, and the linker that exposes host interfaces to guests.

use crate::cpu_share::CallCpu;
use crate::guest_log::{InstanceLog, Stream};
use crate::http_hooks::HttpHooks;
use crate::instance_limits::InstanceLimits;
use crate::io_error::IoErrorsView;
use crate::warm::StoreSpec;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use wasmgate_capabilities::egress::EgressCtx;
use wasmgate_capabilities::messaging::{MessagingCtx, MessagingUsage, MessagingView};
use wasmgate_capabilities::{KvCtx, KvUsage, KvView};
use wasmgate_config::Capability;
use wasmtime::StoreLimitsBuilder;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_config::{WasiConfig, WasiConfigVariables};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Store data of one guest instance: WASI and HTTP contexts, its resource table and memory limits.
///
/// Holds a [`LiveInstance`] so the function's instance count is exact whatever way the store ends.
pub struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    /// Sends outgoing HTTP requests through the function's egress guard.
    http_hooks: HttpHooks,
    table: ResourceTable,
    /// The manifest's memory limit, and the account of the bytes this instance takes.
    pub(crate) limits: InstanceLimits,
    pub(crate) log: Arc<InstanceLog>,
    /// This call's standing with the node's fair CPU share.
    pub(crate) cpu: CallCpu,
    /// The function's `[config]` values, for `wasi:config/store`.
    config: Arc<WasiConfigVariables>,
    /// The function's key-value scope, for `wasi:keyvalue`.
    kv: KvCtx,
    /// This instance's open buckets, against the function's limit.
    kv_usage: KvUsage,
    /// The node's message bus, for `wasi:messaging`.
    messaging: MessagingCtx,
    /// This instance's messages sent, against the function's limit.
    messaging_usage: MessagingUsage,
    _live: LiveInstance,
}

impl Host {
    /// Fresh per-instance state for one store of the function `spec` describes, with linear
    /// memory capped at `spec.memory` bytes.
    ///
    /// Sockets reach only where the function's egress rules allow; without the `sockets` grant
    /// every address is refused (and logged) and names are not looked up. Guest stdout and
    /// stderr go to the log.
    pub(crate) fn new(spec: &StoreSpec<'_>) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(spec.memory).unwrap_or(usize::MAX))
            .trap_on_grow_failure(true)
            .build();
        let log = InstanceLog::new(spec.log);
        let lookup = spec.grants.contains(Capability::Sockets);
        Host {
            wasi: wasi_ctx(spec.egress, lookup, &log),
            http_hooks: HttpHooks::new(spec.egress.clone(), log.clone()),
            log,
            cpu: CallCpu::new(spec.cpu),
            config: spec.config.clone(),
            kv: spec.kv.clone(),
            kv_usage: KvUsage::default(),
            messaging: spec.messaging.clone(),
            messaging_usage: MessagingUsage::default(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits: InstanceLimits::new(limits, spec.cost),
            _live: LiveInstance::new(spec.live),
        }
    }
}

/// The WASI context: stdout and stderr into the log, TCP and UDP with every address checked
/// against the function's `sockets` egress rules (which refuse everything without the grant),
/// and name lookup when `lookup` (only with the grant: a lookup alone can carry data out).
fn wasi_ctx(egress: &EgressCtx, lookup: bool, log: &Arc<InstanceLog>) -> WasiCtx {
    let mut builder = WasiCtx::builder();
    builder
        .stdout(log.stream(Stream::Stdout))
        .stderr(log.stream(Stream::Stderr));
    let (egress, log) = (egress.clone(), log.clone());
    builder
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(lookup)
        .socket_addr_check(move |addr, purpose| {
            let allowed = egress.allows_socket(addr, purpose, &log.request_id());
            Box::pin(std::future::ready(allowed))
        });
    builder.build()
}

impl Host {
    /// Starts the per-call state afresh before a kept instance serves its next call: the CPU
    /// account and the count of messages sent. The caller sets the epoch deadline and the
    /// request id.
    pub(crate) fn next_call(&mut self) {
        self.cpu.restart();
        self.messaging_usage.new_call();
    }

    /// The `wasi:config` view of this instance's configuration.
    pub(crate) fn config(&mut self) -> WasiConfig<'_> {
        WasiConfig::from(&*self.config)
    }

    /// The `wasi:messaging` view of this instance: the bus and its resource table.
    pub(crate) fn messaging(&mut self) -> MessagingView<'_> {
        MessagingView {
            ctx: &self.messaging,
            table: &mut self.table,
            usage: &mut self.messaging_usage,
        }
    }

    /// The instance's resource table (messages handed to the guest live there).
    pub(crate) fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    /// The `wasi:io/error` view of this instance: its resource table, and its log for the detail
    /// a guest is not shown.
    pub(crate) fn io_errors(&mut self) -> IoErrorsView<'_> {
        IoErrorsView {
            table: &mut self.table,
            log: &self.log,
        }
    }

    /// The `wasi:keyvalue` view of this instance: its function's scope and its resource table.
    pub(crate) fn kv(&mut self) -> KvView<'_> {
        KvView {
            ctx: &self.kv,
            table: &mut self.table,
            usage: &mut self.kv_usage,
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
            hooks: &mut self.http_hooks,
        }
    }
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
