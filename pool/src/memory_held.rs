//! Bytes of memory a function holds over time (byte-seconds): the cost of keeping it warm.
//!
//! Updated only when code loads or leaves and when someone reads it, never on a warm call.

use std::sync::Mutex;
use std::time::Instant;

/// Running byte-seconds of one function.
#[derive(Debug)]
pub(crate) struct MemoryHeld {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    byte_seconds: f64,
    held: u64,
    since: Instant,
}

impl MemoryHeld {
    pub(crate) fn new() -> Self {
        MemoryHeld {
            state: Mutex::new(State {
                byte_seconds: 0.0,
                held: 0,
                since: Instant::now(),
            }),
        }
    }

    /// `bytes` more are held from now on (negative: released).
    pub(crate) fn change(&self, bytes: i64) {
        self.update(Instant::now(), |s| {
            s.held = s.held.saturating_add_signed(bytes);
        });
    }

    /// Byte-seconds held so far, including the current holding.
    pub(crate) fn byte_seconds(&self) -> f64 {
        let mut total = 0.0;
        self.update(Instant::now(), |s| total = s.byte_seconds);
        total
    }

    fn update(&self, now: Instant, f: impl FnOnce(&mut State)) {
        // A poisoned lock only means a panic elsewhere mid-update; the numbers are still usable.
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let elapsed = now.saturating_duration_since(s.since).as_secs_f64();
        s.byte_seconds += s.held as f64 * elapsed;
        s.since = now;
        f(&mut s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn byte_seconds_grow_only_while_something_is_held() {
        let m = MemoryHeld::new();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(m.byte_seconds(), 0.0);
        m.change(1000);
        std::thread::sleep(Duration::from_millis(50));
        m.change(-1000);
        let held = m.byte_seconds();
        assert!((50.0..=1000.0).contains(&held), "{held}");
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(m.byte_seconds(), held, "nothing held, nothing added");
    }
}
