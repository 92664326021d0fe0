//! Everything that can stop a load test before or between measurements, named by what failed.
//!
//! Failed *requests* are not errors of this kind: they are measurements, counted in
//! [`Stats`](crate::Stats) by status. These errors mean the test itself could not run.

use std::path::PathBuf;

/// A load-test failure; each variant carries what its message needs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `--target`, `--compare` or `--admin` value is not a usable URL.
    #[error("invalid URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it and how to fix it.
        reason: String,
    },
    /// The options do not describe a runnable test (e.g. `cold` against a target without functions).
    #[error("{0}")]
    InvalidOptions(String),
    /// A trace file could not be parsed.
    #[error("trace line {line}: {reason}")]
    Trace {
        /// The 1-based line of the file where the problem is.
        line: u64,
        /// What is wrong there.
        reason: String,
    },
    /// Output could not be written (a generated trace, a report).
    #[error("writing: {source}")]
    Write {
        /// Why.
        source: std::io::Error,
    },
    /// The simulator refused its input.
    #[error("{0}")]
    Sim(#[from] wasmgate_sim::Error),
    /// A file could not be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// The issuer key could not be loaded or the component could not be signed.
    #[error("signing for `{name}`: {source}")]
    Sign {
        /// The function name the component was being signed for (empty when loading the key).
        name: String,
        /// What the claims crate reported.
        source: wasmgate_claims::Error,
    },
    /// The gateway refused a deploy.
    #[error("deploying `{name}`: {status} {body}")]
    DeployRefused {
        /// The function name.
        name: String,
        /// The HTTP status the gateway answered.
        status: u16,
        /// The response body (the gateway's JSON error).
        body: String,
    },
    /// The admin API could not be reached.
    #[error("admin request to {url}: {source}")]
    Admin {
        /// The URL that was requested.
        url: String,
        /// What went wrong on the way.
        source: reqwest::Error,
    },
    /// A target does not serve the functions the scenario needs.
    #[error("{url} answered {status} before the test started: {hint}")]
    NotServing {
        /// The URL that was probed.
        url: String,
        /// What it answered (`0` when it could not be reached).
        status: u16,
        /// How to fix it.
        hint: String,
    },
    /// Functions deployed with a short idle timeout did not go cold in time.
    #[error(
        "`{name}` at {admin} was still warm after {waited_s} s; is its manifest's idle_timeout short?"
    )]
    StillWarm {
        /// The function that stayed warm.
        name: String,
        /// The admin API that was asked.
        admin: String,
        /// How long the test waited, in seconds.
        waited_s: u64,
    },
    /// Two histograms could not be combined (only if their bounds differ, which this crate avoids).
    #[error("merging histograms: {0}")]
    Merge(#[from] hdrhistogram::AdditionError),
    /// A histogram could not be created.
    #[error("creating a histogram: {0}")]
    Histogram(#[from] hdrhistogram::CreationError),
    /// The flood's own runtime could not be started.
    #[error("starting the flood's runtime: {0}")]
    Runtime(std::io::Error),
    /// A background task of the load generator panicked or was cancelled.
    #[error("load generator task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
