//! One round of a scenario against one endpoint, and the load shapes `warm` and `zipf` share.

use super::{Load, Options, Prepared};
use crate::closed_loop::{self, ClosedLoop};
use crate::error::Result;
use crate::open_loop;
use crate::progress::Progress;
use crate::schedule::{Arrival, Schedule};
use crate::stats::{Recorder, Stats};
use crate::zipf::Popularity;
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, Instant};

/// One round against one endpoint.
pub(super) struct Round<'a> {
    pub(super) options: &'a Options,
    pub(super) endpoint: &'a Prepared,
    pub(super) round: usize,
}

impl Round<'_> {
    /// `target round 1/2`, for progress lines.
    pub(super) fn label(&self) -> String {
        format!(
            "{} round {}/{}",
            self.endpoint.role,
            self.round + 1,
            self.options.rounds.max(1)
        )
    }

    /// Applies the `--rate`/`--connections` load for `duration` with `popularity`, after an
    /// unmeasured warm-up of the same shape.
    pub(super) async fn measure(&self, popularity: Popularity) -> Result<Stats> {
        if !self.options.warmup.is_zero() {
            self.load(popularity, self.options.warmup, "warm-up")
                .await?;
        }
        self.load(popularity, self.options.duration(), "measuring")
            .await
    }

    async fn load(&self, popularity: Popularity, duration: Duration, what: &str) -> Result<Stats> {
        let recorder = Recorder::new()?;
        let _progress = self.progress(&recorder, what, Some(duration));
        let caller = self.endpoint.caller.clone();
        let send = move |function| caller.call(function);
        let seed = self.options.seed.wrapping_add(self.round as u64);
        match self.options.load {
            Load::Closed { connections } => {
                let shape = ClosedLoop {
                    connections,
                    duration,
                    popularity,
                    seed,
                };
                closed_loop::run(shape, send, &recorder).await?;
            }
            Load::Open(schedule) => {
                let schedule = match schedule {
                    Schedule::Poisson { rate, .. } => Schedule::Poisson { rate, seed },
                    constant => constant,
                };
                let mut rng = StdRng::seed_from_u64(seed);
                let arrivals = schedule.offsets_within(duration).map(move |at| Arrival {
                    at,
                    function: popularity.pick(&mut rng),
                });
                open_loop::run(arrivals, self.options.max_in_flight, send, &recorder).await?;
            }
        }
        Ok(recorder.snapshot())
    }

    /// A progress line for a run recording into `recorder`.
    pub(super) fn progress(
        &self,
        recorder: &Recorder,
        what: &str,
        of: Option<Duration>,
    ) -> Progress {
        let recorder = recorder.clone();
        let label = format!("{} {what}", self.label());
        let start = Instant::now();
        Progress::start(self.options.progress, move || {
            let c = recorder.counts();
            let secs = start.elapsed().as_secs_f64();
            let of = of.map_or_else(String::new, |d| format!("/{:.0}", d.as_secs_f64()));
            format!(
                "{label}: {secs:.1}{of} s, {} requests ({:.0}/s), {} errors, {} dropped",
                c.requests,
                c.requests as f64 / secs.max(1e-9),
                c.errors,
                c.dropped
            )
        })
    }
}
