//! A function's cap on what each of its instances may use, and how many instances reached it.
//!
//! Open buckets and messages per call are limited the same way: each instance counts its own
//! use, a use past the cap is refused, and the function counts each instance that was refused at
//! most once, however often its guest kept trying.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The cap one function sets for each of its instances; cloning shares the count of instances
/// that reached it.
#[derive(Debug, Clone)]
pub(crate) struct InstanceLimit {
    pub(crate) max: u32,
    hits: Arc<AtomicU64>,
}

impl InstanceLimit {
    /// A cap of `max`, with a fresh count of instances that reached it.
    pub(crate) fn new(max: u32) -> Self {
        InstanceLimit {
            max,
            hits: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Instances that were refused at this cap.
    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

/// A use refused at the cap; `first` when it is the instance's first refusal (the one counted,
/// and the one worth a log line).
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) first: bool,
}

/// One instance's use of an [`InstanceLimit`].
#[derive(Debug, Default)]
pub(crate) struct InstanceUse {
    used: u32,
    refused: bool,
}

impl InstanceUse {
    /// Takes one more unit, or refuses it at `limit`, counting the instance's first refusal.
    pub(crate) fn take(&mut self, limit: &InstanceLimit) -> Result<(), Refused> {
        if self.used < limit.max {
            self.used += 1;
            return Ok(());
        }
        let first = !std::mem::replace(&mut self.refused, true);
        if first {
            limit.hits.fetch_add(1, Ordering::Relaxed);
        }
        Err(Refused { first })
    }

    /// Gives one unit back (a bucket closed).
    pub(crate) fn give_back(&mut self) {
        self.used = self.used.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uses_past_the_cap_are_refused_and_each_instance_counted_once() {
        let limit = InstanceLimit::new(2);
        let mut usage = InstanceUse::default();
        usage.take(&limit).unwrap();
        usage.take(&limit).unwrap();
        let firsts: Vec<bool> = (0..3)
            .map(|_| usage.take(&limit).unwrap_err().first)
            .collect();
        assert_eq!(firsts, [true, false, false]);
        assert_eq!(limit.hits(), 1);
        usage.give_back();
        usage.take(&limit).unwrap();
        let mut other = InstanceUse::default();
        other.take(&limit.clone()).unwrap();
        other.take(&limit).unwrap();
        assert!(other.take(&limit).unwrap_err().first);
        assert_eq!(limit.hits(), 2, "a clone shares the count");
    }
}
