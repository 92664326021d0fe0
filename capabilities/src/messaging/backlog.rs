//! A subscription's backlog on the embedded bus: messages accepted for it and not yet handled,
//! bounded in messages and bytes (`quotas.max_backlog_messages`, `quotas.max_backlog_bytes`).
//!
//! A publish is accepted only when every recipient has room for it, so nothing accepted is
//! ever dropped for want of room; past the bound the publisher is refused and may retry.

use super::bus::Message;
use super::error::{Error, Result};

/// How much one subscription may have accepted and not yet handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogLimits {
    /// Most messages, at least 1.
    pub messages: u64,
    /// Most bytes of data and metadata, at least 1.
    pub bytes: u64,
}

impl BacklogLimits {
    /// No bound worth the name: what a bus has until the node sets its quotas.
    pub const UNBOUNDED: BacklogLimits = BacklogLimits {
        messages: 1 << 32,
        bytes: u64::MAX,
    };
}

/// What one subscription holds now.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Backlog {
    messages: u64,
    bytes: u64,
}

impl Backlog {
    /// Refuses a message of `size` bytes for `subject` that would not fit within `limits`.
    pub(crate) fn check(&self, limits: BacklogLimits, subject: &str, size: u64) -> Result<()> {
        let full = |quota, waiting, limit| Error::BacklogFull {
            subject: subject.to_owned(),
            quota,
            waiting,
            limit,
        };
        if self.messages >= limits.messages {
            return Err(full("max_backlog_messages", self.messages, limits.messages));
        }
        if self.bytes.saturating_add(size) > limits.bytes {
            return Err(full("max_backlog_bytes", self.bytes, limits.bytes));
        }
        Ok(())
    }

    /// Whether a message of `size` bytes fits now; an empty backlog takes any message the
    /// limits allow at all, so a replay always makes progress.
    pub(crate) fn fits(&self, limits: BacklogLimits, size: u64) -> bool {
        self.messages == 0
            || (self.messages < limits.messages && self.bytes.saturating_add(size) <= limits.bytes)
    }

    /// Both backlogs together.
    pub(crate) fn plus(self, other: Backlog) -> Backlog {
        Backlog {
            messages: self.messages + other.messages,
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }

    /// Counts one more message of `size` bytes.
    pub(crate) fn take(&mut self, size: u64) {
        self.messages += 1;
        self.bytes = self.bytes.saturating_add(size);
    }

    /// Gives back one message of `size` bytes.
    pub(crate) fn give(&mut self, size: u64) {
        self.messages = self.messages.saturating_sub(1);
        self.bytes = self.bytes.saturating_sub(size);
    }
}

/// Bytes a message counts for in a backlog: its data, content type and metadata.
pub(crate) fn message_size(msg: &Message) -> u64 {
    let metadata: usize = msg.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    let content_type = msg.content_type.as_ref().map_or(0, String::len);
    (msg.data.len() + metadata + content_type) as u64
}

/// Refuses a message that could never fit a subscription's backlog, even an empty one.
pub(crate) fn check_size(limits: BacklogLimits, size: u64) -> Result<()> {
    if size > limits.bytes {
        return Err(Error::TooLargeForBacklog {
            size,
            max: limits.bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_refuses_past_either_bound_naming_it() {
        let limits = BacklogLimits {
            messages: 2,
            bytes: 10,
        };
        let mut backlog = Backlog::default();
        backlog.check(limits, "s", 10).unwrap();
        backlog.take(6);
        let err = backlog.check(limits, "s", 5).unwrap_err();
        assert!(
            err.to_string().contains("quotas.max_backlog_bytes"),
            "{err}"
        );
        backlog.check(limits, "s", 4).unwrap();
        backlog.take(1);
        let err = backlog.check(limits, "s", 0).unwrap_err();
        assert!(
            err.to_string().contains("quotas.max_backlog_messages"),
            "{err}"
        );
        backlog.give(6);
        backlog.check(limits, "s", 9).unwrap();
        assert!(check_size(limits, 11).is_err() && check_size(limits, 10).is_ok());
    }
}
