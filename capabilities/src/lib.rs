//! Host implementations of the WIT interfaces a wasmgate guest may import, each behind a
//! backend trait with an embedded default and a distributed alternative.
//!
//! - `wasi:keyvalue@0.2.0-draft` (store, atomics, batch): [`KvBackend`] with [`RedbBackend`]
//!   (a durable file in the data dir) and [`RedisBackend`]. Each function sees only its own
//!   buckets plus the shared ones its manifest grants ([`KvScope`]); keys, values and open
//!   buckets are bounded ([`keyvalue::MAX_KEY_LEN`], [`keyvalue::MAX_VALUE_SIZE`],
//!   [`KvCtx::with_max_open_buckets`]).
//! - `wasi:messaging@0.2.0-draft`: the [`messaging::Bus`] trait with an embedded, durable bus
//!   ([`messaging::EmbeddedBus`], NATS subject semantics and queue groups) and
//!   [`messaging::NatsBus`].
//! - The egress guard ([`egress`]): where guests' `wasi:http` requests and `wasi:sockets`
//!   connections (and the gateway's callbacks) may go: public addresses, the hosts a grant's
//!   signed list names, and the internal ranges the operator opened; everything else refused.
//!
//! Two rules every host interface here (and the pool's) follows live here too: what a guest is
//! told about a failure ([`guest_message`]: its kind, never host detail), and that everything
//! written in the data dir is private to the gateway's user ([`private_files`]).
//!
//! This crate knows WIT and storage, not HTTP routing, instance pools or the admin API: the
//! pool puts a [`KvCtx`] in each store and links with [`add_to_linker`].
//!
//! ```no_run
//! # fn demo(engine: &wasmtime::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use wasmgate_capabilities::{KvCtx, KvScope, KvUsage, KvView, RedbBackend, add_to_linker};
//! use wasmtime::component::{Linker, ResourceTable};
//!
//! struct State {
//!     kv: KvCtx,
//!     usage: KvUsage,
//!     table: ResourceTable,
//! }
//!
//! // Once per node:
//! let backend = Arc::new(RedbBackend::open("data/kv.redb".as_ref())?);
//! let mut linker = Linker::<State>::new(engine);
//! add_to_linker(&mut linker, |s: &mut State| KvView {
//!     ctx: &s.kv,
//!     table: &mut s.table,
//!     usage: &mut s.usage,
//! })?;
//! // Once per deployed function, then cloned into each instance's state:
//! let kv = KvCtx::new(backend, KvScope::new("orders-api", ["orders"])?).with_max_open_buckets(100);
//! let state = State { kv: kv.clone(), usage: KvUsage::default(), table: ResourceTable::new() };
//! # let _ = state; Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod egress;
mod error;
pub mod guest_error;
mod instance_limit;
pub mod keyvalue;
pub mod messaging;
pub mod private_files;

pub use error::{Blame, Error, Result};
pub use guest_error::guest_message;
pub use keyvalue::{
    KeyPage, KvBackend, KvCtx, KvScope, KvUsage, KvView, ListFrom, RedbBackend, RedisBackend,
    add_to_linker,
};
