//! `zipf`: many functions with skewed popularity, to show whether throughput holds as the
//! number of deployed functions grows.

use super::Round;
use crate::error::Result;
use crate::stats::{Recorder, Stats};
use crate::zipf::Popularity;

/// Measures one round: every function called once (so first calls are not part of the
/// measurement), then the `--rate`/`--connections` load with Zipf picks.
pub(super) async fn round(round: &Round<'_>) -> Result<Vec<(String, Stats)>> {
    let functions = round.endpoint.names.len();
    let popularity = Popularity::zipf(functions, round.options.zipf_exponent)?;
    let recorder = Recorder::new()?;
    {
        let _progress = round.progress(&recorder, "calling each function once", None);
        for function in 0..functions {
            let reply = round.endpoint.caller.call(function).await;
            recorder.record(function, reply.outcome, std::time::Duration::ZERO);
        }
    }
    let stats = round.measure(popularity).await?;
    Ok(vec![("requests".to_owned(), stats)])
}

/// How skewed the traffic was: the most-called function's hits and the share of all requests
/// that went to the most-called 10 % of functions.
pub(super) fn facts(functions: usize, stats: &Stats) -> Vec<(String, f64)> {
    let top_tenth = functions.div_ceil(10);
    vec![
        ("functions".to_owned(), functions as f64),
        (
            "top_function_hits".to_owned(),
            stats.hits().iter().copied().max().unwrap_or(0) as f64,
        ),
        ("top_10pct_share".to_owned(), stats.share_of_top(top_tenth)),
    ]
}
