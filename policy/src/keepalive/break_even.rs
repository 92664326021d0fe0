//! The cost-driven keep-alive: keep a function's memory across an idle gap only while the memory
//! it holds is expected to cost less than the cold start it saves (the ski-rental problem;
//! Karlin, Manasse, McGeoch and Owicki, "Competitive randomized algorithms for nonuniform
//! problems", Algorithmica 1994), with the idle-time distribution learned per function by
//! Serverless in the Wild's histogram ([`IdleHistogram`](super::IdleHistogram)).
//!
//! The exchange rate between memory and cold starts is one number, [`ColdStartWorth`]: the
//! memory·time one avoided cold start is worth. A function of `bytes` then breaks even after
//! `worth / bytes` of idleness, so a 0.3 MiB Rust component is kept hundreds of times longer than
//! a 35 MiB JavaScript one for the same price. FaaSCache's Greedy-Dual priority (frequency × cost
//! / size) ranks functions by the same ratio when memory runs out; this rule applies it before,
//! to decide how long idle memory is worth holding at all.

use super::histogram::BINS;
use super::pattern::Pattern;
use super::windows::{HistogramRule, Windows};
use crate::error::{Error, Result};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// What one avoided cold start is worth, as memory held for a time (`bytes × seconds`).
///
/// Text form `BYTES*DURATION`, e.g. `64MiB*10m` (the default: a 64 MiB function breaks even
/// after 10 minutes idle, AWS Lambda's keep-alive; a 32 MiB one after 20 minutes). Bytes take
/// the suffixes `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000);
/// `×` and `x` also separate the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColdStartWorth {
    bytes: u64,
    held_for: Duration,
}

impl ColdStartWorth {
    /// 64 MiB held for 10 minutes.
    pub const DEFAULT: ColdStartWorth = ColdStartWorth {
        bytes: 64 << 20,
        held_for: Duration::from_secs(600),
    };

    /// `bytes` held for `held_for`; `None` when either is zero.
    pub fn new(bytes: u64, held_for: Duration) -> Option<Self> {
        (bytes > 0 && !held_for.is_zero()).then_some(ColdStartWorth { bytes, held_for })
    }

    /// The worth in byte·seconds.
    pub fn byte_seconds(&self) -> f64 {
        self.bytes as f64 * self.held_for.as_secs_f64()
    }

    /// How long a function holding `bytes` may sit idle before holding it has cost one cold
    /// start: the deterministic ski-rental rule, at most twice the cost of the best choice made
    /// knowing the future. [`Duration::MAX`] for a function holding nothing.
    pub fn break_even(&self, bytes: u64) -> Duration {
        if bytes == 0 {
            return Duration::MAX;
        }
        Duration::try_from_secs_f64(self.byte_seconds() / bytes as f64).unwrap_or(Duration::MAX)
    }
}

impl Default for ColdStartWorth {
    fn default() -> Self {
        ColdStartWorth::DEFAULT
    }
}

impl FromStr for ColdStartWorth {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let invalid = |reason: String| Error::InvalidWorth {
            text: text.to_owned(),
            reason,
        };
        let Some((bytes, held_for)) = text.split_once(['*', '×', 'x']) else {
            return Err(invalid(
                "write it as BYTES*DURATION, e.g. `64MiB*10m`".to_owned(),
            ));
        };
        let bytes = parse_bytes(bytes.trim()).ok_or_else(|| {
            invalid(format!(
                "`{}` is not a size; write it like `64MiB` or `500MB`",
                bytes.trim()
            ))
        })?;
        let held_for = humantime::parse_duration(held_for.trim()).map_err(|e| {
            invalid(format!(
                "`{}` is not a duration ({e}); write it like `10m` or `90s`",
                held_for.trim()
            ))
        })?;
        ColdStartWorth::new(bytes, held_for)
            .ok_or_else(|| invalid("both the size and the duration must be above zero".to_owned()))
    }
}

/// `64MiB`, `500MB`, `1024B`, `4096` (bytes): a whole number and an optional unit.
fn parse_bytes(text: &str) -> Option<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return None,
    };
    number.checked_mul(factor)
}

impl fmt::Display for ColdStartWorth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (value, unit) = [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
            .into_iter()
            .find(|&(size, _)| self.bytes.is_multiple_of(size))
            .map_or((self.bytes, "B"), |(size, unit)| (self.bytes / size, unit));
        write!(
            f,
            "{value}{unit}*{}",
            humantime::format_duration(self.held_for)
        )
    }
}

/// The cost-driven windows of a function: SitW's histogram says how long its idle times are,
/// [`ColdStartWorth`] what holding its bytes through them is worth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakEvenRule {
    /// What one avoided cold start is worth.
    pub worth: ColdStartWorth,
    /// SitW's rule, for the idle times it needs ([`HistogramRule::min_idle_times`]) and for
    /// functions whose idle times mostly lie past the histogram ([`HistogramRule::windows`]'s
    /// out-of-bounds case, where the histogram knows no distribution).
    pub histogram: HistogramRule,
}

impl Default for BreakEvenRule {
    fn default() -> Self {
        BreakEvenRule {
            worth: ColdStartWorth::DEFAULT,
            histogram: HistogramRule::default(),
        }
    }
}

impl BreakEvenRule {
    /// The windows of a function holding `bytes` (all its layers) with `pattern`:
    ///
    /// 1. **Unknown** (fewer than `min_idle_times` idle times): keep alive for the break-even
    ///    time `worth / bytes` (ski-rental), and at least `fallback`, the manifest's
    ///    `idle_timeout`, which its author may raise.
    /// 2. **Mostly out of bounds** (idle times past the histogram's range): SitW's window around
    ///    the median recent idle time, when holding the function through that window costs less
    ///    than a cold start; otherwise as unknown.
    /// 3. **Known**: with `S(t)` the share of idle times longer than `t` (out-of-bounds ones
    ///    count as endless) and `b` the bytes, holding the function from `p` to `k` after a call
    ///    ends costs `b × ∫ₚᵏ S + worth × (1 − S(p) + S(k))` per idle gap: memory while idle,
    ///    a cold start when the next call comes before the pre-warm or after the unload. With
    ///    `f(t) = b × ∫₀ᵗ S + worth × S(t)` that is `f(k) − f(p) + worth`, so the keep-alive `k`
    ///    is where `f` is lowest and the pre-warm `p` where it is highest before `k`, both on
    ///    bin edges (idle times spread evenly within a bin). `k = 0` unloads at every call's
    ///    end: its calls come too far apart for its size.
    ///
    /// O([`BINS`]) per call, no allocation.
    pub fn windows(&self, pattern: &Pattern, fallback: Duration, bytes: u64) -> Windows {
        let break_even = self.worth.break_even(bytes);
        let unknown = Windows::keep(break_even.max(fallback));
        let Some(histogram) = pattern.idle_times() else {
            return unknown;
        };
        let rule = &self.histogram;
        let idle_times = histogram
            .in_range()
            .saturating_add(histogram.out_of_bounds());
        if idle_times < rule.min_idle_times {
            return unknown;
        }
        if histogram.out_of_bounds() > 0
            && histogram.out_of_bounds_share() >= rule.out_of_bounds_share
        {
            let sitw = rule.windows(pattern, fallback);
            let held = sitw.keep_alive.saturating_sub(sitw.prewarm);
            return if held < break_even { sitw } else { unknown };
        }
        let bin = pattern.params().bin.as_secs_f64();
        let total = f64::from(idle_times);
        let bytes = bytes.max(1) as f64;
        let worth = self.worth.byte_seconds();
        // f at edge 0: no memory held yet, every idle time still ahead.
        let mut survival = 1.0;
        let mut integral = 0.0;
        let mut best_keep = (0usize, worth);
        let mut best_prewarm = (0usize, worth);
        let mut highest = (0usize, worth);
        for (i, &count) in histogram.bins().iter().enumerate() {
            let next = survival - f64::from(count) / total;
            integral += bin * (survival + next) / 2.0;
            survival = next;
            let edge = i + 1;
            let f = bytes * integral + worth * survival;
            if f > highest.1 {
                highest = (edge, f);
            }
            if f < best_keep.1 {
                best_keep = (edge, f);
                best_prewarm = highest;
            }
        }
        let (keep, _) = best_keep;
        if keep == 0 {
            return Windows::keep(Duration::ZERO);
        }
        let (prewarm, _) = best_prewarm;
        let at = |edge: usize| Duration::from_secs_f64(bin * edge as f64);
        debug_assert!(prewarm <= keep && keep <= BINS);
        Windows {
            prewarm: at(prewarm),
            keep_alive: at(keep),
        }
    }
}

#[cfg(test)]
mod tests;
