//! An Azure-shaped synthetic trace in the Azure Functions 2021 per-invocation format
//! (`app,func,end_timestamp,duration`), following the shape Serverless in the Wild (Shahrad et
//! al., ATC 2020, §3) publishes for the Azure 2019 trace (round2-design §2.1, last row). Label
//! results from it "Azure-shaped", never "Azure".
//!
//! Per function, independently and deterministically from the seed:
//!
//! - **Rate** (mean calls per minute), log-uniform within three segments that give SitW's
//!   shares: 45 % of functions from one call per 14 days to one per hour, 36 % from one per hour
//!   to one per minute, 19 % from one per minute up to [`Shape::max_rate`]. SitW's top segment
//!   goes on to thousands per minute (8 orders of magnitude in all); it is bounded here so a
//!   14-day, 1,000-function trace stays replayable: with the default 10 per minute it holds about
//!   17 million calls (about 1.7 million below one per minute), and the ≥ 1/min functions carry
//!   about 90 % of calls where SitW's carry 99.6 %. Every function is called at least once.
//! - **Class**: 20 % *timers*, strictly periodic (period = 1 / rate, a uniform phase, ±0.5 s
//!   jitter; IAT CV ≈ 0); 40 % *steady*, renewal with Gamma(4) gaps (CV 0.5, about 0.7 after
//!   the diurnal modulation); 40 % *bursty* on/off: bursts arrive as a Poisson process, each
//!   of 1 + Geometric calls (8 on average) 2 s apart on average (IAT CV > 1). SitW reports that
//!   about 40 % of apps have an IAT CV above 1 and timers near 0.
//! - **Diurnal shape**: steady and bursty arrivals follow the intensity `1 + 0.5 sin(2π (t −
//!   8 h) / 24 h)`, peaking at 14:00 of each trace day (timers fire around the clock).
//! - **Durations**: each function's median is log-normal around 1 s (σ = 1, within 10 ms–60 s),
//!   each call's log-normal around that (σ = 0.5, within 1 ms–600 s): heavy-tailed, median about
//!   1 s as in SitW §3.

use crate::error::{Error, Result};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, Gamma, Geometric, LogNormal};
use std::f64::consts::TAU;
use std::io::Write;

/// The default top of the rate range, calls per minute (see the module docs).
pub const DEFAULT_MAX_RATE: f64 = 10.0;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// The bottom of the rate range: one call per 14 days (the Azure traces' span), per minute.
const MIN_RATE: f64 = 1.0 / (14.0 * 1440.0);

/// Shares of functions per rate segment: ≤ 1/h, ≤ 1/min, above (SitW Fig. 5).
const SEGMENTS: [f64; 3] = [0.45, 0.36, 0.19];

/// Shares of functions per class: timers, steady, bursty.
const CLASSES: [f64; 3] = [0.20, 0.40, 0.40];

/// Amplitude of the diurnal modulation of steady and bursty arrivals.
const DIURNAL: f64 = 0.5;

/// Hour of the day the diurnal intensity peaks.
const PEAK_HOUR: f64 = 14.0;

/// Mean calls per burst of a bursty function.
const BURST_CALLS: f64 = 8.0;

/// Mean seconds between calls within a burst.
const BURST_GAP: f64 = 2.0;

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Shape {
    /// How many functions (each its own app).
    pub functions: usize,
    /// How long the trace lasts, days (> 0).
    pub days: f64,
    /// The seed of every random choice: the same shape and seed give the same trace.
    pub seed: u64,
    /// The highest mean rate of a function, calls per minute (≥ 1).
    pub max_rate: f64,
}

/// How a function's calls arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Timer,
    Steady,
    Bursty,
}

/// One function's drawn parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Function {
    pub(crate) class: Class,
    /// Mean calls per minute.
    pub(crate) rate: f64,
    /// Median call duration, seconds.
    pub(crate) median_duration: f64,
}

/// One generated call: start and duration in seconds, the function's index.
pub(crate) type GeneratedCall = (f64, f32, u32);

/// What [`generate`] wrote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Generated {
    /// Functions (all are called at least once).
    pub functions: usize,
    /// Calls written.
    pub calls: u64,
    /// Seconds from the trace's start to its last start.
    pub span_s: f64,
}

impl Shape {
    fn check(&self) -> Result<()> {
        if self.functions == 0 || u32::try_from(self.functions).is_err() {
            return Err(Error::InvalidOptions(format!(
                "--functions {} is out of range: give 1 to 4294967295",
                self.functions
            )));
        }
        if !(self.days.is_finite() && self.days > 0.0) {
            return Err(Error::InvalidOptions(format!(
                "--days {} is not a positive number of days, e.g. 14",
                self.days
            )));
        }
        if !(self.max_rate.is_finite() && self.max_rate >= 1.0) {
            return Err(Error::InvalidOptions(format!(
                "--max-rate {} must be at least 1 call per minute, e.g. {DEFAULT_MAX_RATE}",
                self.max_rate
            )));
        }
        Ok(())
    }

    /// Each function's parameters, in order.
    pub(crate) fn functions(&self) -> Vec<(Function, u64)> {
        let mut master = StdRng::seed_from_u64(self.seed);
        (0..self.functions)
            .map(|_| {
                let seed = master.random::<u64>();
                let mut rng = StdRng::seed_from_u64(seed);
                let u: f64 = rng.random();
                let (lo, hi, v) = if u < SEGMENTS[0] {
                    (MIN_RATE, 1.0 / 60.0, u / SEGMENTS[0])
                } else if u < SEGMENTS[0] + SEGMENTS[1] {
                    (1.0 / 60.0, 1.0, (u - SEGMENTS[0]) / SEGMENTS[1])
                } else {
                    let start = SEGMENTS[0] + SEGMENTS[1];
                    (1.0, self.max_rate, (u - start) / SEGMENTS[2])
                };
                let rate = lo * (hi / lo).powf(v);
                let c: f64 = rng.random();
                let class = if c < CLASSES[0] {
                    Class::Timer
                } else if c < CLASSES[0] + CLASSES[1] {
                    Class::Steady
                } else {
                    Class::Bursty
                };
                let median_duration = log_normal(&mut rng, 1.0, 1.0).clamp(0.01, 60.0);
                let function = Function {
                    class,
                    rate,
                    median_duration,
                };
                (function, rng.random::<u64>())
            })
            .collect()
    }

    /// Every call, sorted by start.
    pub(crate) fn calls(&self) -> Result<Vec<GeneratedCall>> {
        self.check()?;
        let span = self.days * DAY;
        let mut calls = Vec::new();
        for (index, (function, seed)) in self.functions().into_iter().enumerate() {
            let mut rng = StdRng::seed_from_u64(seed);
            let before = calls.len();
            let index = index as u32;
            let draw = |rng: &mut StdRng, start: f64| -> GeneratedCall {
                let duration =
                    log_normal(rng, function.median_duration, 0.5).clamp(0.001, 600.0) as f32;
                (start, duration, index)
            };
            let mean_gap = 60.0 / function.rate;
            match function.class {
                Class::Timer => {
                    let jitter = 0.5f64.min(mean_gap * 0.01);
                    let mut at = rng.random::<f64>() * mean_gap;
                    while at < span {
                        let start = (at + rng.random_range(-jitter..=jitter)).clamp(0.0, span);
                        calls.push(draw(&mut rng, start));
                        at += mean_gap;
                    }
                }
                Class::Steady => {
                    let end = diurnal_integral(span);
                    let mut at = rng.random::<f64>() * mean_gap;
                    let gaps = Gamma::new(4.0, mean_gap / 4.0)
                        .expect("the mean gap is positive and finite");
                    while at < end {
                        calls.push(draw(&mut rng, diurnal_inverse(at)));
                        at += gaps.sample(&mut rng);
                    }
                }
                Class::Bursty => {
                    let end = diurnal_integral(span);
                    let bursts =
                        Exp::new(1.0 / (mean_gap * BURST_CALLS)).expect("the rate is positive");
                    let within = Exp::new(1.0 / BURST_GAP).expect("a positive constant");
                    let extra = Geometric::new(1.0 / BURST_CALLS).expect("a probability in (0, 1]");
                    let mut at = bursts.sample(&mut rng);
                    while at < end {
                        let mut start = diurnal_inverse(at);
                        for _ in 0..=extra.sample(&mut rng) {
                            if start >= span {
                                break;
                            }
                            calls.push(draw(&mut rng, start));
                            start += within.sample(&mut rng);
                        }
                        at += bursts.sample(&mut rng);
                    }
                }
            }
            if calls.len() == before {
                let start = rng.random::<f64>() * span;
                calls.push(draw(&mut rng, start));
            }
        }
        calls.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.2.cmp(&b.2)));
        Ok(calls)
    }
}

/// Writes the trace of `shape` to `out` as Azure 2021 CSV, times to the millisecond; function
/// `i` is `func{i}` of app `app{i}`.
///
/// # Errors
/// [`Error::InvalidOptions`] for an impossible shape, [`Error::Write`] when `out` fails.
pub fn generate(shape: &Shape, out: impl Write) -> Result<Generated> {
    let calls = shape.calls()?;
    let mut out = std::io::BufWriter::new(out);
    let write_error = |source| Error::Write { source };
    writeln!(out, "app,func,end_timestamp,duration").map_err(write_error)?;
    for &(start, duration, function) in &calls {
        // Rounded start and duration, so start = end − duration holds to the millisecond.
        let start = (start * 1e3).round() / 1e3;
        let duration = (f64::from(duration) * 1e3).round() / 1e3;
        writeln!(
            out,
            "app{function},func{function},{:.3},{duration:.3}",
            start + duration
        )
        .map_err(write_error)?;
    }
    out.flush().map_err(write_error)?;
    Ok(Generated {
        functions: shape.functions,
        calls: calls.len() as u64,
        span_s: calls.last().map_or(0.0, |c| c.0),
    })
}

/// A log-normal draw with median `median` and shape `sigma`.
fn log_normal(rng: &mut StdRng, median: f64, sigma: f64) -> f64 {
    LogNormal::new(median.ln(), sigma)
        .map(|d| d.sample(rng))
        .unwrap_or(median)
}

/// The diurnal intensity (mean 1) at `t` seconds.
pub(crate) fn diurnal(t: f64) -> f64 {
    1.0 + DIURNAL * (TAU * (t - (PEAK_HOUR - 6.0) * 3600.0) / DAY).sin()
}

/// `∫₀ᵗ diurnal`: "operational time", in which steady and bursty arrivals are homogeneous.
fn diurnal_integral(t: f64) -> f64 {
    let phase = (PEAK_HOUR - 6.0) * 3600.0;
    let k = DIURNAL * DAY / TAU;
    t - k * ((TAU * (t - phase) / DAY).cos() - (TAU * -phase / DAY).cos())
}

/// The wall time at which operational time reaches `u` (Newton's method; the intensity stays
/// within [0.5, 1.5], so it converges in a few steps).
fn diurnal_inverse(u: f64) -> f64 {
    let mut t = u;
    for _ in 0..20 {
        let step = (diurnal_integral(t) - u) / diurnal(t);
        t -= step;
        if step.abs() < 1e-6 {
            break;
        }
    }
    t.max(0.0)
}

#[cfg(test)]
mod tests;
