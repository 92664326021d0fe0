//! A trace-driven simulator of wasmgate's keep-alive, eviction and placement policies. It runs
//! the node's own policy code (`wasmgate-policy`: [`Pattern`], [`Residency`],
//! [`KeepAlivePolicy`], [`Placement`]) on a virtual clock over every call of a trace, so
//! simulated and live numbers are comparable (round2-design §2.2).
//!
//! It owns the replay ([`simulate`]), the per-kind costs of functions ([`Costs`], read from a
//! JSON file) and the report ([`Report`]). It does not read traces (the load tester parses the
//! Azure formats and builds a [`Workload`]) and knows nothing of wasmtime or the gateway.
//!
//! ```no_run
//! use std::time::Duration;
//! use wasmgate_sim::{Call, Config, Costs, KeepAlivePolicy, Workload, simulate};
//!
//! # fn demo(costs_json: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let costs = Costs::from_json(costs_json)?;
//! let calls = vec![
//!     Call::new(0, Duration::from_secs(0), Duration::from_secs(1)),
//!     Call::new(0, Duration::from_secs(600), Duration::from_secs(1)),
//! ];
//! let workload = Workload::new(vec!["app/hello".into()], calls)?;
//! let policy: KeepAlivePolicy = "adaptive".parse()?;
//! let report = simulate(&workload, &costs, &Config::new(policy, 1 << 30))?;
//! print!("{}", report.to_table());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod costs;
mod error;
mod replay;
mod report;
mod workload;

pub use costs::{Costs, DEFAULT_RESTORE_SPLIT, Kind};
pub use error::{Error, Result};
pub use replay::{
    Config, DEFAULT_BALANCE_FACTOR, DEFAULT_IDLE_TIMEOUT, DEFAULT_NODE_CAPACITY, simulate,
};
pub use report::{Distribution, NodesNeeded, PerFunction, Report};
pub use wasmgate_policy::{KeepAlivePolicy, Pattern, PatternParams, Placement, Residency};
pub use workload::{Call, Workload};
