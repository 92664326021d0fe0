//! Who gets the next slice of guest CPU: the waiting call whose function has used the least
//! CPU recently. Pure: the clock is a parameter, so the choice can be tested without waiting.

use std::time::{Duration, Instant};

/// How fast a function's recent CPU use fades: a slice taken this long ago weighs half as much
/// as one taken now. Long enough that a function spinning for a second stays behind one that
/// just started; short enough that a function busy a minute ago competes as new.
pub(crate) const USAGE_HALF_LIFE: Duration = Duration::from_secs(1);

/// A function's recent CPU use, in slices (epoch ticks of running past the free first tick),
/// each weighted by `0.5 ^ (age / USAGE_HALF_LIFE)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    /// The weighted sum as of `at`.
    slices: f64,
    at: Instant,
}

impl Usage {
    /// No use yet, as of `now`.
    pub(crate) fn new(now: Instant) -> Self {
        Usage {
            slices: 0.0,
            at: now,
        }
    }

    /// The weighted sum as of `now` (a `now` before the last charge counts as that instant).
    pub(crate) fn at(&self, now: Instant) -> f64 {
        let age = now.saturating_duration_since(self.at);
        self.slices * (-age.as_secs_f64() / USAGE_HALF_LIFE.as_secs_f64()).exp2()
    }

    /// Adds one slice granted at `now`.
    pub(crate) fn charge(&mut self, now: Instant) {
        let now = now.max(self.at);
        self.slices = self.at(now) + 1.0;
        self.at = now;
    }
}

/// The index of the waiter to serve first: least recent use, then the one waiting longest
/// (lowest `arrival`). `None` when nobody waits.
pub(crate) fn next(waiters: impl IntoIterator<Item = (Usage, u64)>, now: Instant) -> Option<usize> {
    waiters
        .into_iter()
        .enumerate()
        .map(|(i, (usage, arrival))| (usage.at(now), arrival, i))
        .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
        .map(|(_, _, i)| i)
}

#[cfg(test)]
mod tests;
