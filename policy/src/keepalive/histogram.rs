//! The idle-time histogram of Serverless in the Wild (Shahrad et al., "Serverless in the Wild:
//! Characterizing and Optimizing the Serverless Workload at a Large Cloud Provider", USENIX ATC
//! 2020, §4.2): how long a function sat idle between calls, in [`BINS`] bins of one bin width
//! (one minute by default, so four hours), idle times past the last bin counted *out of bounds*.
//!
//! Counts are `u16`, so the histogram takes under 600 bytes on the heap; when a bin would
//! overflow, every count is halved, which keeps the shape and lets old idle times fade.

use std::time::Duration;

/// Bins in the histogram: 240, SitW's four hours of one-minute bins.
pub const BINS: usize = 240;

/// Bins per group of the two-level prefix sums that make a percentile O(√BINS) (16 × 15).
const GROUP: usize = 16;

/// Groups of [`GROUP`] bins.
const GROUPS: usize = BINS / GROUP;

/// Out-of-bounds idle times remembered for the out-of-bounds rule (round2-design §1.3 item 2:
/// the median of the last 8 replaces SitW's ARIMA forecast).
pub const RECENT_OUT_OF_BOUNDS: usize = 8;

/// A function's idle times: counts per bin, the out-of-bounds count and the last few
/// out-of-bounds idle times.
#[derive(Debug, Clone, PartialEq)]
pub struct IdleHistogram {
    bins: [u16; BINS],
    /// `groups[g]` = the sum of bins `g × GROUP ..`, kept so percentiles scan 31 numbers, not 240.
    groups: [u32; GROUPS],
    in_range: u32,
    out_of_bounds: u32,
    /// Σ count², kept so the coefficient of variation of the bin counts costs O(1).
    sum_squares: u64,
    /// The last out-of-bounds idle times in seconds, a ring.
    recent: [f32; RECENT_OUT_OF_BOUNDS],
    recent_len: u8,
    recent_next: u8,
}

impl Default for IdleHistogram {
    fn default() -> Self {
        IdleHistogram {
            bins: [0; BINS],
            groups: [0; GROUPS],
            in_range: 0,
            out_of_bounds: 0,
            sum_squares: 0,
            recent: [0.0; RECENT_OUT_OF_BOUNDS],
            recent_len: 0,
            recent_next: 0,
        }
    }
}

impl IdleHistogram {
    /// Counts one idle time, `bin` wide bins (a zero width counts everything in bin 0).
    pub fn record(&mut self, idle: Duration, bin: Duration) {
        let index = idle.as_nanos() / bin.as_nanos().max(1);
        let Some(index) = usize::try_from(index).ok().filter(|&i| i < BINS) else {
            self.out_of_bounds = self.out_of_bounds.saturating_add(1);
            self.recent[usize::from(self.recent_next)] = idle.as_secs_f32();
            self.recent_next = (self.recent_next + 1) % RECENT_OUT_OF_BOUNDS as u8;
            self.recent_len = (self.recent_len + 1).min(RECENT_OUT_OF_BOUNDS as u8);
            return;
        };
        if self.bins[index] == u16::MAX {
            self.halve();
        }
        let count = u64::from(self.bins[index]);
        self.bins[index] += 1;
        self.groups[index / GROUP] += 1;
        self.in_range += 1;
        self.sum_squares += 2 * count + 1;
    }

    /// Halves every count (floor), so a full bin has room and the out-of-bounds share holds.
    fn halve(&mut self) {
        for count in &mut self.bins {
            *count /= 2;
        }
        self.groups = [0; GROUPS];
        self.sum_squares = 0;
        for (i, &count) in self.bins.iter().enumerate() {
            self.groups[i / GROUP] += u32::from(count);
            self.sum_squares += u64::from(count) * u64::from(count);
        }
        self.in_range = self.groups.iter().sum();
        self.out_of_bounds /= 2;
    }

    /// The count of each bin, bin `i` holding idle times in `[i, i + 1)` bin widths.
    pub fn bins(&self) -> &[u16; BINS] {
        &self.bins
    }

    /// Idle times that fell in a bin.
    pub fn in_range(&self) -> u32 {
        self.in_range
    }

    /// Idle times longer than the histogram's range.
    pub fn out_of_bounds(&self) -> u32 {
        self.out_of_bounds
    }

    /// Out-of-bounds idle times over all idle times, in `[0, 1]` (0 when there are none).
    pub fn out_of_bounds_share(&self) -> f64 {
        let total = f64::from(self.in_range) + f64::from(self.out_of_bounds);
        if total == 0.0 {
            0.0
        } else {
            f64::from(self.out_of_bounds) / total
        }
    }

    /// The coefficient of variation (sample standard deviation over mean) of the bin counts;
    /// 0 for an empty histogram. High means idle times concentrate in few bins.
    pub fn bin_cv(&self) -> f64 {
        if self.in_range == 0 {
            return 0.0;
        }
        let n = BINS as f64;
        let mean = f64::from(self.in_range) / n;
        let variance = (self.sum_squares as f64 - n * mean * mean).max(0.0) / (n - 1.0);
        variance.sqrt() / mean
    }

    /// The first bin at which the in-range idle times reach the fraction `p` (in `(0, 1]`) of
    /// their count, or `None` when no idle time is in range.
    pub fn percentile_bin(&self, p: f64) -> Option<usize> {
        if self.in_range == 0 {
            return None;
        }
        let target = ((p * f64::from(self.in_range)).ceil() as u64).max(1);
        let mut prefix = 0u64;
        for (g, &sum) in self.groups.iter().enumerate() {
            if prefix + u64::from(sum) < target {
                prefix += u64::from(sum);
                continue;
            }
            for (i, &count) in self.bins[g * GROUP..(g + 1) * GROUP].iter().enumerate() {
                prefix += u64::from(count);
                if prefix >= target {
                    return Some(g * GROUP + i);
                }
            }
        }
        Some(BINS - 1)
    }

    /// The median of the last (up to [`RECENT_OUT_OF_BOUNDS`]) out-of-bounds idle times, or
    /// `None` when there was none.
    pub fn recent_out_of_bounds_median(&self) -> Option<Duration> {
        let len = usize::from(self.recent_len);
        if len == 0 {
            return None;
        }
        let mut recent = self.recent;
        let recent = &mut recent[..len];
        recent.sort_by(f32::total_cmp);
        let median = if len % 2 == 1 {
            f64::from(recent[len / 2])
        } else {
            (f64::from(recent[len / 2 - 1]) + f64::from(recent[len / 2])) / 2.0
        };
        Duration::try_from_secs_f64(median).ok()
    }
}
