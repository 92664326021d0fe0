//! What the node remembers about one function's calls, updated on every call start and end in
//! O(1) with no allocation on the steady path: calls in flight, the last end, a decayed call
//! frequency and the idle-time histogram.

use super::histogram::IdleHistogram;
use std::time::Duration;

/// The default histogram bin width: one minute, SitW's (§4.2).
pub const DEFAULT_BIN: Duration = Duration::from_secs(60);

/// The default frequency half-life: an hour, so yesterday's hot function does not keep its
/// priority today (FaaSCache counts calls without decay; round2-design §1.3 item 4 adds it).
pub const DEFAULT_HALF_LIFE: Duration = Duration::from_secs(3600);

/// The time scale a [`Pattern`] measures in. A trace replayed `k` times faster than recorded
/// must scale both by `1 / k` ([`PatternParams::compressed`]), or the histogram learns the wrong
/// windows (round2-design §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatternParams {
    /// Width of one idle-time bin; the histogram covers 240 of them.
    pub bin: Duration,
    /// The call frequency halves every `half_life`.
    pub half_life: Duration,
}

impl Default for PatternParams {
    fn default() -> Self {
        PatternParams {
            bin: DEFAULT_BIN,
            half_life: DEFAULT_HALF_LIFE,
        }
    }
}

impl PatternParams {
    /// The defaults for a replay `speedup` times faster than recorded (`speedup` ≥ 1e-9; a
    /// non-finite or non-positive value leaves the defaults unscaled).
    pub fn compressed(speedup: f64) -> Self {
        let scale = |d: Duration| {
            if speedup.is_finite() && speedup > 1e-9 {
                Duration::try_from_secs_f64(d.as_secs_f64() / speedup).unwrap_or(d)
            } else {
                d
            }
        };
        PatternParams {
            bin: scale(DEFAULT_BIN),
            half_life: scale(DEFAULT_HALF_LIFE),
        }
    }
}

/// One function's call pattern on one node. Times are [`Duration`]s since an origin the caller
/// picks (the node's start, or the trace's), and must not go backwards for one function.
///
/// Idle time (SitW §4.2) = the start of a call that begins while none is in flight − the last
/// end. The histogram is allocated at the first idle time, so a function never called twice
/// holds none ([`Pattern::heap_bytes`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    params: PatternParams,
    in_flight: u32,
    calls: u64,
    last_end: Option<Duration>,
    frequency: f64,
    frequency_at: Duration,
    idle: Option<Box<IdleHistogram>>,
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::new(PatternParams::default())
    }
}

impl Pattern {
    /// A function not called yet, measured on `params`' time scale.
    pub fn new(params: PatternParams) -> Self {
        Pattern {
            params,
            in_flight: 0,
            calls: 0,
            last_end: None,
            frequency: 0.0,
            frequency_at: Duration::ZERO,
            idle: None,
        }
    }

    /// Records the start of a call at `now`.
    pub fn on_start(&mut self, now: Duration) {
        if self.in_flight == 0
            && let Some(end) = self.last_end
        {
            let bin = self.params.bin;
            self.idle
                .get_or_insert_with(Box::default)
                .record(now.saturating_sub(end), bin);
        }
        self.in_flight = self.in_flight.saturating_add(1);
        self.calls = self.calls.saturating_add(1);
        self.frequency = self.frequency(now) + 1.0;
        self.frequency_at = self.frequency_at.max(now);
    }

    /// Records the end of a call at `now` (a call that was started with [`Pattern::on_start`]).
    pub fn on_end(&mut self, now: Duration) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.last_end = Some(self.last_end.map_or(now, |end| end.max(now)));
    }

    /// Calls running now.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// Calls started so far.
    pub fn calls(&self) -> u64 {
        self.calls
    }

    /// When the last call ended, if one has.
    pub fn last_end(&self) -> Option<Duration> {
        self.last_end
    }

    /// The call count decayed to `now`: each call counts 1 when it starts and half that every
    /// half-life after.
    pub fn frequency(&self, now: Duration) -> f64 {
        let elapsed = now.saturating_sub(self.frequency_at).as_secs_f64();
        let half_life = self.params.half_life.as_secs_f64();
        if elapsed == 0.0 || self.frequency == 0.0 {
            self.frequency
        } else if half_life == 0.0 {
            0.0
        } else {
            self.frequency * (-elapsed / half_life).exp2()
        }
    }

    /// The idle-time histogram, once the function has been idle between two calls.
    pub fn idle_times(&self) -> Option<&IdleHistogram> {
        self.idle.as_deref()
    }

    /// The time scale this pattern measures in.
    pub fn params(&self) -> PatternParams {
        self.params
    }

    /// Heap bytes this pattern holds: 0 until the first idle time, then the histogram's size.
    pub fn heap_bytes(&self) -> usize {
        self.idle.as_ref().map_or(0, |_| size_of::<IdleHistogram>())
    }
}

#[cfg(test)]
mod tests;
