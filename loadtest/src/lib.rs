//! A load generator for wasmgate and servers like it, and the serverless workloads that matter
//! for them: a warm function under load ([`ScenarioKind::Warm`]), cold starts
//! ([`ScenarioKind::Cold`]), many functions with skewed popularity ([`ScenarioKind::Zipf`]), a
//! spike after idleness ([`ScenarioKind::Burst`]) and replays of the Azure Functions traces
//! ([`ScenarioKind::Trace`]), and a flood on one function while another is probed
//! ([`ScenarioKind::Overload`]), or its CPU-bound guests spinning on every core
//! ([`ScenarioKind::Noisy`]). Each can run against a second server in alternation, so the two
//! are compared as a ratio measured in one sitting.
//!
//! Load is applied open-loop ([`open_loop`]: requests at scheduled times, latency counted from
//! the scheduled time, which corrects for coordinated omission) or closed-loop ([`closed_loop`]:
//! N connections, each sending when answered) or as a [`flood`] (N connections that ignore
//! refusals, in the background), and recorded in HDR histograms ([`Stats`]).
//!
//! It talks to servers only over HTTP, as users do, and knows nothing of the gateway's insides;
//! `wasmgate-claims` signs the components it deploys. Offline, it writes Azure-shaped traces
//! ([`generate`]) and replays traces through the node's own keep-alive and placement policies
//! on a virtual clock ([`simulate`], by `wasmgate-sim`: the one exception to "no gateway
//! code", since a simulator must run the code the node runs).
//!
//! ```no_run
//! use std::time::Duration;
//! use wasmgate_loadtest::{Admin, Endpoint, Load, Options, ProgressMode, ScenarioKind, Target};
//!
//! # async fn demo() -> Result<(), wasmgate_loadtest::Error> {
//! let target = Target::parse("http://127.0.0.1:8080/fn/{name}")?;
//! let options = Options {
//!     scenario: ScenarioKind::Warm,
//!     endpoints: vec![Endpoint {
//!         role: "target".into(),
//!         admin: Admin::new(target.origin(), None),
//!         target,
//!     }],
//!     load: Load::Closed { connections: 32 },
//!     duration: Some(Duration::from_secs(10)),
//!     warmup: Duration::from_secs(1),
//!     functions: None,
//!     signer: None, // `lt-0` is already deployed
//!     zipf_exponent: 1.0,
//!     idle: Duration::from_secs(2),
//!     burst: 200,
//!     trace: None,
//!     speedup: 1.0,
//!     rounds: 1,
//!     max_in_flight: 10_000,
//!     timeout: Duration::from_secs(10),
//!     seed: 1,
//!     progress: ProgressMode::Auto,
//!     overload: None,
//! };
//! let report = wasmgate_loadtest::run(&options).await?;
//! println!("{}", report.to_table());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod admin;
mod client;
pub mod closed_loop;
mod deploy;
mod error;
pub mod flood;
pub mod generate;
pub mod open_loop;
mod progress;
mod report;
mod scenario;
mod schedule;
pub mod simulate;
mod stats;
mod target;
mod trace;
mod zipf;

pub use admin::{Admin, FunctionState};
pub use client::{Caller, Client, Reply};
pub use closed_loop::ClosedLoop;
pub use deploy::{Signer, deploy_all};
pub use error::{Error, Result};
pub use flood::{Flood, FloodCounts};
pub use open_loop::DEFAULT_MAX_IN_FLIGHT;
pub use progress::{Progress, ProgressMode};
pub use report::{Latency, Ratio, Report, SendLag, Summary, TargetReport};
pub use scenario::{
    DEFAULT_CONNECTIONS, DEFAULT_DURATION, DEFAULT_FLOOD_CONNECTIONS, DEFAULT_FUNCTIONS,
    DEFAULT_MAX_NEIGHBOUR_P99, DEFAULT_MAX_PROBE_P99, DEFAULT_PROBE_RATE, DEFAULT_SPINNERS,
    Endpoint, Load, Options, Overload, ScenarioKind, run,
};
pub use schedule::{Arrival, Offsets, Schedule, corrected_latency};
pub use stats::{Counts, Outcome, Recorder, Stats};
pub use target::{NAME_PLACEHOLDER, Target, function_name, function_names};
pub use trace::{Arrivals, Trace, TraceFormat};
pub use zipf::Popularity;
