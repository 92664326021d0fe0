//! Cluster mode's shared state on NATS JetStream, an engine operators already run: no consensus,
//! membership protocol or replicated log of our own.
//!
//! - [`Cluster`] ([`connection`]): one NATS connection and the buckets below, created on first
//!   use (a node that starts while NATS is down keeps serving its local view and retries);
//! - [`registry`]: the function registry in the KV bucket `wg_registry` (`fn.<name>` → the
//!   record's JSON), written with compare-and-swap so concurrent deploys of one name never lose
//!   one, and watched by every node ([`Changes`]);
//! - [`originals`]: signed components as uploaded, content-addressed in the object store
//!   `wg_originals` (`sha256:<hex>`; JetStream checks each object's SHA-256 on read);
//! - [`artifacts`]: precompiled artifacts in the object store `wg_artifacts`
//!   (`cwasm/<engine fingerprint>/<original digest>`), with the compiling node's signature in their
//!   metadata, for nodes that trust that node's key (the gateway checks; this crate stores);
//! - [`calls`]: async calls on the JetStream work queue `WG_CALLS`, pulled by every node through
//!   one durable consumer, at least once; their states and results in the KV bucket `wg_results`;
//! - [`slots`]: the last fired slot of every schedule in the KV bucket `wg_schedules`
//!   (`slot.<function>.<index>`), claimed with compare-and-swap so each slot fires on one node;
//! - [`membership`]: one entry per node in the KV bucket `wg_nodes` with expiry, rewritten every
//!   heartbeat with the node's address, state and load; [`Members`] is a node's view of them, in
//!   the shape [`wasmgate_policy::Placement`] decides homes from.
//!
//! The gateway owns what travels over HTTP (forwarding a call to its home); this crate never
//! sees a request. Records are opaque bytes here: their type is the gateway's.

#![deny(missing_docs)]

pub mod artifacts;
pub mod calls;
pub mod connection;
pub mod error;
pub mod membership;
pub mod originals;
pub mod registry;
pub mod slots;

pub use artifacts::{SharedArtifact, artifact_name};
pub use calls::{CallOptions, Delivery};
pub use connection::{Cluster, ClusterOptions, NatsCredentials};
pub use error::Error;
pub use membership::{Members, NodeEntry, NodeState};
pub use registry::{Change, Changes, Versioned};
pub use slots::FiredSlot;
