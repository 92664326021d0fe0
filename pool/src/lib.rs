//! The execution side of wasmgate: the wasmtime engine, the content-addressed stores of precompiled
//! artifacts and of the signed originals they were built from, loaded code under a node memory budget, per-function instances and their limits.
//!
//! It knows nothing of routes, the admin API or admission: the gateway hands it component bytes to
//! [`Pool::compile`] at deploy, a [`FunctionSpec`] per deployed version, and HTTP requests to
//! [`Function::call`]. A function loads on its first call (single-flight), runs each request in a
//! fresh instance (or, with `[scale] reuse = true`, one kept from an earlier call) under its limits (memory, time, concurrency, response body size, messages sent,
//! buckets open), shares guest CPU fairly between functions once calls run past an epoch tick,
//! and drops its code when the node's keep-alive policy (`wasmgate-policy`) says so: by default
//! after `idle_timeout` without work. Each version keeps a cost account ([`CostTotals`]), and
//! each function name the last lines its guests printed ([`LogRing`], see [`Pool::guest_log`]).
//!
//! ```no_run
//! # async fn demo(module: Vec<u8>) -> Result<(), Box<dyn std::error::Error>> {
//! use wasmgate_config::{CapabilitySet, FunctionDefaults, Manifest, PoolSettings};
//! use wasmgate_pool::{FunctionSpec, Pool};
//!
//! let settings = PoolSettings::default();
//! let pool = Pool::open(&settings, std::path::Path::new("./data/artifacts"))?;
//! let compiled = pool.compile(&module, CapabilitySet::NONE)?;
//! let function = pool.function(FunctionSpec {
//!     name: "hello".into(),
//!     artifact: compiled.artifact,
//!     artifact_size: compiled.artifact_size,
//!     grants: CapabilitySet::NONE,
//!     on_cold_start: None,
//!     config: Default::default(),
//!     kv: wasmgate_capabilities::KvCtx::new(
//!         std::sync::Arc::new(wasmgate_capabilities::RedbBackend::open(std::path::Path::new("./data/kv.redb"))?),
//!         wasmgate_capabilities::KvScope::new("hello", Vec::<String>::new())?,
//!     ),
//!     messaging: wasmgate_capabilities::messaging::MessagingCtx::new(std::sync::Arc::new(
//!         wasmgate_capabilities::messaging::EmbeddedBus::open("./data")?,
//!     )),
//!     egress: wasmgate_capabilities::egress::EgressCtx::new("hello", &[], &Default::default(), &[], None),
//!     settings: Manifest::default().resolve(&FunctionDefaults::default(), &settings)?,
//! });
//! let request = http::Request::get("http://localhost/").body(http_body_util::Empty::new())?;
//! let response = function.call(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod call;
mod code_cache;
mod compile;
mod content_store;
mod cost;
mod cpu_share;
mod digest;
mod engine;
mod error;
mod fair_share;
mod function;
mod guest_log;
mod host;
mod http_hooks;
mod instance_limits;
mod io_error;
mod limits;
mod linkers;
mod log_ring;
mod node;
mod original_store;
mod p3_call;
mod pool;
mod response_body;
mod reuse;
pub mod trace_context;
mod warm;
mod watched_body;

pub use code_cache::Evictions;
pub use compile::Compiled;
pub use cost::{ColdStartPhases, CostTotals};
pub use digest::Digest;
pub use error::{Blame, Error, Result};
pub use function::{ColdStartHook, Function, FunctionSpec, FunctionStats, LimitHits};
pub use guest_log::RequestId;
pub use log_ring::{
    FOLLOW_BUFFER, Followed, Follower, LogLine, LogRing, RING_MAX_BYTES, RING_MAX_LINE_BYTES,
    RING_MAX_LINES,
};
pub use original_store::OriginalStore;
pub use pool::Pool;
pub use response_body::{EndHook, HELD_BODY, ResponseBody};
