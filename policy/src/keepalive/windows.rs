//! When a function's code may leave memory and when it should come back: the pre-warm and
//! keep-alive windows, and the hybrid histogram rule of Serverless in the Wild that computes
//! them from a [`Pattern`].

use super::pattern::Pattern;
use std::time::Duration;

/// A function's windows after its last call ended, both measured from that end: its code is
/// unloaded `keep_alive` after it; with `prewarm > 0` the code may leave at the end and is loaded
/// again (loaded and linked, not instantiated) `prewarm` after it, SitW's pre-warm window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Windows {
    /// When to load the code again after the end; zero keeps it loaded from the end on.
    pub prewarm: Duration,
    /// When to unload after the end; [`Duration::MAX`] never (budget pressure aside).
    pub keep_alive: Duration,
}

impl Windows {
    /// Keep loaded for `keep_alive` after the end, no pre-warming.
    pub const fn keep(keep_alive: Duration) -> Self {
        Windows {
            prewarm: Duration::ZERO,
            keep_alive,
        }
    }

    /// Never unloaded for idleness (only budget pressure unloads).
    pub const FOREVER: Windows = Windows::keep(Duration::MAX);
}

/// The thresholds of the hybrid histogram rule. SitW (§4.2) gives the structure; the numbers
/// (CV 2, out-of-bounds share 0.5, 10 % and 15 % margins, 5th/99th percentiles) are those of
/// the reproductions round2-design §1.1 names (dslab's `hybrid_histogram.rs`, faascache-sim),
/// and the ≥ 10 idle times and the median of the last 8 out-of-bounds idle times replacing
/// SitW's ARIMA forecast are round2-design §1.3 item 2's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistogramRule {
    /// Fewest idle times for the histogram to be representative.
    pub min_idle_times: u32,
    /// Lowest coefficient of variation of the bin counts for it to be representative.
    pub min_cv: f64,
    /// Out-of-bounds share from which the out-of-bounds rule applies.
    pub out_of_bounds_share: f64,
    /// Percentile (fraction) whose bin starts the pre-warm window.
    pub head: f64,
    /// Percentile (fraction) whose bin ends the keep-alive window.
    pub tail: f64,
    /// The pre-warm window starts `1 − margin` times the head bin's start.
    pub head_margin: f64,
    /// The keep-alive window ends `1 + margin` times the tail bin's end.
    pub tail_margin: f64,
    /// Out of bounds: windows at `1 ∓ margin` times the median recent idle time.
    pub out_of_bounds_margin: f64,
}

impl Default for HistogramRule {
    fn default() -> Self {
        HistogramRule {
            min_idle_times: 10,
            min_cv: 2.0,
            out_of_bounds_share: 0.5,
            head: 0.05,
            tail: 0.99,
            head_margin: 0.10,
            tail_margin: 0.10,
            out_of_bounds_margin: 0.15,
        }
    }
}

impl HistogramRule {
    /// The windows for `pattern` (round2-design §1.3 item 2):
    ///
    /// 1. out-of-bounds share ≥ 50 %: the median `m` of the last 8 out-of-bounds idle times,
    ///    pre-warm at `m × 0.85`, keep alive until `m × 1.15`;
    /// 2. representative (≥ 10 idle times, CV of the bin counts ≥ 2): pre-warm at the start of
    ///    the 5th-percentile bin × 0.9, keep alive until the end of the 99th-percentile bin × 1.1;
    /// 3. otherwise (unknown): no pre-warming, keep alive for `fallback` (the manifest's
    ///    `idle_timeout`, where SitW keeps 4 h: with sub-millisecond cold starts 4 h is mostly
    ///    wasted memory).
    pub fn windows(&self, pattern: &Pattern, fallback: Duration) -> Windows {
        let unknown = Windows::keep(fallback);
        let Some(histogram) = pattern.idle_times() else {
            return unknown;
        };
        if histogram.out_of_bounds() > 0
            && histogram.out_of_bounds_share() >= self.out_of_bounds_share
            && let Some(median) = histogram.recent_out_of_bounds_median()
        {
            return Windows {
                prewarm: scale(median, 1.0 - self.out_of_bounds_margin),
                keep_alive: scale(median, 1.0 + self.out_of_bounds_margin),
            };
        }
        let idle_times = histogram
            .in_range()
            .saturating_add(histogram.out_of_bounds());
        if idle_times < self.min_idle_times || histogram.bin_cv() < self.min_cv {
            return unknown;
        }
        let (Some(head), Some(tail)) = (
            histogram.percentile_bin(self.head),
            histogram.percentile_bin(self.tail),
        ) else {
            return unknown;
        };
        let bin = pattern.params().bin;
        Windows {
            prewarm: scale(bin, head as f64 * (1.0 - self.head_margin)),
            keep_alive: scale(bin, (tail + 1) as f64 * (1.0 + self.tail_margin)),
        }
    }
}

/// `d × factor`, saturating at [`Duration::MAX`] and at zero (never panics, unlike `mul_f64`).
fn scale(d: Duration, factor: f64) -> Duration {
    let secs = d.as_secs_f64() * factor;
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX)
    }
}

#[cfg(test)]
mod tests;
