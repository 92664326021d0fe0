//! What can go wrong turning text into a policy: the one input this crate parses.

/// A policy crate failure; each variant carries what its message needs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A keep-alive policy name could not be parsed.
    #[error(
        "invalid keep-alive policy `{text}`: {reason}; accepted: `fixed`, `fixed:DURATION` \
         (e.g. `fixed:10m`), `adaptive`, `histogram`, `greedy-dual` (the last three optionally \
         `:DURATION`, the fallback keep-alive, e.g. `adaptive:4h`), `hybrid[:DURATION]`, `lru`, \
         `none`"
    )]
    InvalidPolicy {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A cold start's worth (`BYTES*DURATION`) could not be parsed.
    #[error("invalid cold-start worth `{text}`: {reason}")]
    InvalidWorth {
        /// The text as given.
        text: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
