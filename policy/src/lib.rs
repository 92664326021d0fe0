//! Decisions wasmgate makes that need no I/O, so the gateway and a simulator run the same code:
//!
//! - [`placement`]: which node of a cluster is a function's home (rendezvous hashing with
//!   bounded loads over an active set sized from the total load), and how many nodes the load
//!   needs.
//! - [`keepalive`]: which functions stay in memory on one node and for how long (per-function
//!   call patterns, Serverless in the Wild's idle-time histogram, windows that keep a function
//!   only while its memory costs less than the cold start it saves, Greedy-Dual eviction by
//!   layer under a byte budget), chosen by a [`KeepAlivePolicy`] name.
//!
//! Nothing here reads a clock, a socket or a file; callers pass times, loads and member lists
//! in.
//!
//! ```no_run
//! use std::time::Duration;
//! use wasmgate_policy::{Footprint, KeepAlivePolicy, Pattern, Residency, Usage};
//!
//! # fn demo() -> Result<(), wasmgate_policy::Error> {
//! let policy: KeepAlivePolicy = "adaptive".parse()?;
//! let idle_timeout = Duration::from_secs(300);
//! let mut pattern = Pattern::default();
//! let mut residency = Residency::new(512 << 20, policy.eviction());
//! let now = Duration::from_secs(10);
//! pattern.on_start(now);
//! // A cold start: make room, then drop what the residency evicted.
//! let evicted = residency.admit("hello", Footprint::default(), false, now, |_| {
//!     Usage::of(&pattern, now)
//! });
//! pattern.on_end(now + Duration::from_millis(3));
//! // Housekeeping: expire and pre-warm what is due.
//! let later = now + Duration::from_secs(600);
//! let actions = residency.sweep(later, |_, footprint| {
//!     let windows = policy.windows(&pattern, idle_timeout, footprint.bytes());
//!     (Usage::of(&pattern, later), windows)
//! });
//! # let _ = (evicted, actions);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod error;
pub mod keepalive;
pub mod placement;

pub use error::{Error, Result};
pub use keepalive::{
    Action, BreakEvenRule, ColdStartWorth, Footprint, KeepAlivePolicy, Layer, LayerCost, Pattern,
    PatternParams, Residency, Usage, Windows,
};
pub use placement::{Member, MemberState, Memory, Placement};
