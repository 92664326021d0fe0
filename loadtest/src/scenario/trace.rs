//! `trace`: real serverless traffic, replayed faster than recorded on the open loop.

use super::Round;
use crate::error::Result;
use crate::open_loop;
use crate::stats::{Recorder, Stats};
use crate::trace::Trace;
use std::sync::Arc;

/// Replays the trace once (up to `--duration` if given).
pub(super) async fn round(round: &Round<'_>) -> Result<Vec<(String, Stats)>> {
    let options = round.options;
    let Some(trace) = options.trace.as_ref().map(Arc::clone) else {
        return Ok(Vec::new());
    };
    let cap = options.duration;
    let arrivals = trace
        .arrivals(
            options.speedup,
            options.seed.wrapping_add(round.round as u64),
        )
        .take_while(move |a| cap.is_none_or(|cap| a.at < cap));
    let recorder = Recorder::new()?;
    let span = trace.span().div_f64(options.speedup);
    let _progress = round.progress(&recorder, "replaying", Some(cap.unwrap_or(span).min(span)));
    let caller = round.endpoint.caller.clone();
    open_loop::run(
        arrivals,
        options.max_in_flight,
        move |function| caller.call(function),
        &recorder,
    )
    .await?;
    Ok(vec![("requests".to_owned(), recorder.snapshot())])
}

/// The size of the trace and how long its replay was meant to take.
pub(super) fn facts(trace: &Trace, speedup: f64) -> Vec<(String, f64)> {
    vec![
        ("trace_functions".to_owned(), trace.functions().len() as f64),
        ("trace_invocations".to_owned(), trace.invocations() as f64),
        (
            "replay_span_s".to_owned(),
            trace.span().as_secs_f64() / speedup,
        ),
    ]
}
