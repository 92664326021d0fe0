//! What the residency reads of a function's [`Pattern`] when it decides: calls in flight, use
//! since it last looked, the last end and the decayed frequency.

use super::pattern::Pattern;
use std::time::Duration;

/// What the residency needs to know about a function's use, read from its [`Pattern`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Calls running now; a function with one is never evicted nor expired.
    pub in_flight: u32,
    /// Calls started so far (a change means it was used since the residency last looked).
    pub calls: u64,
    /// When its last call ended.
    pub last_end: Option<Duration>,
    /// Its decayed call frequency now.
    pub frequency: f64,
}

impl Usage {
    /// The usage `pattern` shows at `now`.
    pub fn of(pattern: &Pattern, now: Duration) -> Self {
        Usage {
            in_flight: pattern.in_flight(),
            calls: pattern.calls(),
            last_end: pattern.last_end(),
            frequency: pattern.frequency(now),
        }
    }
}
