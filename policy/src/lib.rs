//! Decisions wasmgate makes that need no I/O, so the gateway and a simulator run the same code:
//!
//! - [`placement`]: which node of a cluster is a function's home (rendezvous hashing with
//!   bounded loads over an active set sized from the total load), and how many nodes the load
//!   needs.
//!
//! Nothing here reads a clock, a socket or a file; callers pass loads and member lists in.

#![deny(missing_docs)]

pub mod placement;

pub use placement::{Member, MemberState, Placement};
