//! What can go wrong talking to the cluster's JetStream.

/// Every failure of this crate; each names what was being done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The NATS server is unreachable or JetStream refused a request (not enabled, timed out).
    #[error("cluster NATS unavailable while {doing}: {reason}")]
    Unavailable {
        /// What the node was doing.
        doing: String,
        /// The client's error.
        reason: String,
    },
    /// A compare-and-swap lost: another node wrote `key` since it was read.
    #[error("{key} was changed by another node since it was read")]
    Conflict {
        /// The key that changed.
        key: String,
    },
    /// A stored value is not what this version of wasmgate writes.
    #[error("cluster state {key} is malformed: {reason}")]
    Malformed {
        /// The key or object.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A function's async queue holds `limit` calls already.
    #[error("the async queue of {function} is full ({limit} calls)")]
    QueueFull {
        /// The function.
        function: String,
        /// `async_calls.max_queued`.
        limit: u32,
    },
    /// An object is larger than the caller accepts.
    #[error("{key} is {size} bytes, more than the {limit} accepted")]
    TooLarge {
        /// The object.
        key: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
}

/// Result of this crate's operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An [`Error::Unavailable`] for `doing`, from any client error.
pub(crate) fn unavailable(doing: &str, reason: impl std::fmt::Display) -> Error {
    Error::Unavailable {
        doing: doing.to_owned(),
        reason: reason.to_string(),
    }
}
