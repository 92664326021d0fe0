//! `simulate`: a trace replayed through wasmgate's keep-alive, eviction and placement policies
//! on a virtual clock, by `wasmgate-sim`. This is the one place the load tester uses the
//! gateway's own code: the simulator must run the very policy code the node runs, so its
//! numbers can be checked against a live replay of the same trace.

use crate::error::{Error, Result};
use crate::trace::Trace;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_sim::{Call, Costs, Workload};

/// The costs used without `--costs`: `loadtest/costs/default.json`, whose figures are
/// placeholders until measured ones replace them (its `note` says so in every report).
pub const DEFAULT_COSTS: &str = include_str!("../costs/default.json");

/// How long each call of an Azure 2019 per-minute trace lasts in a simulation: that format has
/// no durations, and SitW (§3) puts the median execution time near one second.
pub const PER_MINUTE_CALL_DURATION: Duration = Duration::from_secs(1);

/// The calls of `trace` as a simulator workload (per-minute traces: each call placed at a
/// `seed`ed instant within its minute, lasting [`PER_MINUTE_CALL_DURATION`]).
pub fn workload(trace: Trace, seed: u64) -> Result<Workload> {
    let functions = trace.functions().to_vec();
    let calls: Vec<Call> = match trace.invocations_with_durations() {
        Some(invocations) => invocations
            .iter()
            .map(|i| {
                Call::new(
                    i.function,
                    Duration::from_secs_f64(i.start),
                    Duration::try_from_secs_f32(i.duration).unwrap_or_default(),
                )
            })
            .collect(),
        None => Arc::new(trace)
            .arrivals(1.0, seed)
            .map(|a| Call::new(a.function as u32, a.at, PER_MINUTE_CALL_DURATION))
            .collect(),
    };
    Ok(Workload::new(functions, calls)?)
}

/// The costs in the file at `path`, or [`DEFAULT_COSTS`].
pub fn costs(path: Option<&Path>) -> Result<Costs> {
    match path {
        None => Ok(Costs::from_json(DEFAULT_COSTS)?),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })?;
            Costs::from_json(&text).map_err(|e| {
                Error::InvalidOptions(format!(
                    "{}: {e} (see loadtest/costs/default.json for the format)",
                    path.display()
                ))
            })
        }
    }
}

#[cfg(test)]
mod tests;
