//! A bounded rate of warn lines about what clients do wrong (failed authentication, connections
//! ended for misbehaving): enough to see who, few enough that a client repeating the mistake in a
//! loop cannot flood the log. Lines over the budget are counted and reported by the next line
//! that is written.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

/// Lines per second, and the burst allowed above it: a line is ~200 bytes, so a client looping
/// on a mistake costs the log about 1 KB/s.
const LINES_PER_SECOND: NonZeroU32 = NonZeroU32::new(5).expect("non-zero");
/// See [`LINES_PER_SECOND`].
const BURST: NonZeroU32 = NonZeroU32::new(20).expect("non-zero");

/// The budget of one kind of warn line.
pub struct LogBudget {
    limiter: DefaultDirectRateLimiter,
    /// Lines skipped since the last one written.
    unlogged: AtomicU64,
}

impl Default for LogBudget {
    fn default() -> Self {
        LogBudget {
            limiter: RateLimiter::direct(Quota::per_second(LINES_PER_SECOND).allow_burst(BURST)),
            unlogged: AtomicU64::new(0),
        }
    }
}

impl LogBudget {
    /// `Some(skipped)` when a line may be written now (`skipped`: lines left out since the last
    /// one, for its `unlogged_since_last` field); `None` when over the budget, which counts the
    /// line as skipped.
    pub fn admit(&self) -> Option<u64> {
        if self.limiter.check().is_err() {
            self.unlogged.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.unlogged.swap(0, Ordering::Relaxed))
    }

    /// Lines skipped since the last one written.
    #[cfg(test)]
    pub(crate) fn skipped(&self) -> u64 {
        self.unlogged.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_written_then_lines_are_counted_until_the_next_one() {
        let budget = LogBudget::default();
        let written = (0..1_000).filter(|_| budget.admit().is_some()).count();
        // The burst, plus what refilled while the loop ran.
        assert!(
            written >= BURST.get() as usize && written < 2 * BURST.get() as usize,
            "{written}"
        );
        assert_eq!(
            budget.unlogged.load(Ordering::Relaxed),
            1_000 - written as u64
        );
    }
}
