//! When an open-loop test sends its requests: arrival times fixed in advance, independent of how
//! fast the server answers.
//!
//! That independence is what makes the open loop honest. A closed loop waits for each answer
//! before sending the next request, so a server that stalls for a second simply receives no
//! requests during that second and only the one stalled request looks slow ("coordinated
//! omission"). Here every request has an *intended* start time from the schedule, and its
//! latency is measured from that time ([`corrected_latency`]), so requests that should have
//! been sent during the stall are charged the time they spent waiting for it.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Exp};
use std::time::{Duration, Instant};

/// One request of an open-loop test: when to send it, measured from the start, and to which
/// function (an index into the scenario's function list).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    /// The intended send time, as an offset from the start of the run.
    pub at: Duration,
    /// Which function to call.
    pub function: usize,
}

/// How arrival times are spaced.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// Exactly `rate` requests per second, evenly spaced: the n-th (from 0) at `n / rate` s.
    Constant {
        /// Requests per second.
        rate: f64,
    },
    /// A Poisson process with mean `rate` per second: exponential gaps drawn from a generator
    /// seeded with `seed`, so a run can be repeated exactly.
    Poisson {
        /// Mean requests per second.
        rate: f64,
        /// The random seed.
        seed: u64,
    },
}

impl Schedule {
    /// The mean rate in requests per second.
    pub fn rate(&self) -> f64 {
        match *self {
            Schedule::Constant { rate } | Schedule::Poisson { rate, .. } => rate,
        }
    }

    /// The arrival offsets from the start, without end; take as many as the run needs.
    ///
    /// A rate that is not a positive finite number yields no arrivals.
    pub fn offsets(&self) -> Offsets {
        let rate = self.rate();
        let state = if !(rate.is_finite() && rate > 0.0) {
            State::Empty
        } else {
            match *self {
                Schedule::Constant { rate } => State::Constant { rate, n: 0 },
                Schedule::Poisson { rate, seed } => match Exp::new(rate) {
                    Ok(gap) => State::Poisson {
                        gap,
                        rng: Box::new(StdRng::seed_from_u64(seed)),
                        now: 0.0,
                    },
                    Err(_) => State::Empty,
                },
            }
        };
        Offsets { state }
    }

    /// The offsets that fall before `duration`.
    pub fn offsets_within(&self, duration: Duration) -> impl Iterator<Item = Duration> + use<> {
        self.offsets().take_while(move |at| *at < duration)
    }
}

/// The arrival offsets of a [`Schedule`], in increasing order.
#[derive(Debug)]
pub struct Offsets {
    state: State,
}

#[derive(Debug)]
enum State {
    Empty,
    Constant {
        rate: f64,
        n: u64,
    },
    Poisson {
        gap: Exp<f64>,
        // Boxed so the common constant-rate case does not carry the generator's large state.
        rng: Box<StdRng>,
        now: f64,
    },
}

impl Iterator for Offsets {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        match &mut self.state {
            State::Empty => None,
            State::Constant { rate, n } => {
                // Computed from n rather than by adding gaps, so rounding never accumulates:
                // the millionth request is exactly on time.
                let at = *n as f64 / *rate;
                *n += 1;
                Some(Duration::from_secs_f64(at))
            }
            State::Poisson { gap, rng, now } => {
                let at = Duration::from_secs_f64(*now);
                *now += gap.sample(rng);
                Some(at)
            }
        }
    }
}

/// The latency to record for a request that was meant to start at `intended` and finished at
/// `done`: the whole time since it *should* have been sent, including any time it waited
/// because the server (or the load generator) was behind. This is the coordinated-omission
/// correction; measuring from the actual send time would hide exactly that waiting.
pub fn corrected_latency(intended: Instant, done: Instant) -> Duration {
    done.saturating_duration_since(intended)
}

#[cfg(test)]
mod tests;
