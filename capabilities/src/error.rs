//! Everything that can go wrong in a capability, named by what failed.

use std::path::PathBuf;

/// Who is to blame for an error: drives logs and metrics labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The deployer supplied something unusable (a manifest grant, a setting).
    Client,
    /// The guest asked for something it may not have or that cannot work.
    Guest,
    /// The node or its storage failed.
    Host,
}

/// A capability failure; each variant carries what its message needs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A guest went on listing keys with a cursor this function's listings did not hand out,
    /// or one that expired (see [`KvCtx`](crate::KvCtx)).
    #[error("unknown list-keys cursor: {reason}; list again from the start")]
    UnknownCursor {
        /// Why the cursor cannot go on.
        reason: &'static str,
    },
    /// A guest opened a bucket whose name is not allowed.
    #[error("invalid bucket name {name:?}: {reason}")]
    InvalidBucket {
        /// The name the guest asked for.
        name: String,
        /// Which rule the name breaks.
        reason: &'static str,
    },
    /// A function name or shared bucket grant cannot form a key-value scope.
    #[error("invalid key-value scope name {name:?}: {reason}")]
    InvalidScope {
        /// The offending function name or shared bucket name.
        name: String,
        /// Which rule the name breaks.
        reason: &'static str,
    },
    /// `increment` found a value that is not a counter (see the counter encoding in
    /// [`KvBackend::increment`](crate::KvBackend::increment)).
    #[error("value under key {key:?} is not a counter")]
    NotACounter {
        /// The key holding the value.
        key: String,
    },
    /// `increment` would take a counter past `i64::MAX`; nothing was written.
    #[error("counter under key {key:?} would overflow")]
    CounterOverflow {
        /// The key holding the counter.
        key: String,
    },
    /// A guest already holds as many open buckets as its function allows.
    #[error(
        "too many open buckets: an instance may hold at most {max} (limits.max_open_buckets); drop one before opening another"
    )]
    TooManyBuckets {
        /// The function's `max_open_buckets`.
        max: u32,
    },
    /// A guest used a key longer than [`MAX_KEY_LEN`](crate::keyvalue::MAX_KEY_LEN).
    #[error("key of {len} bytes is longer than the limit of {max} bytes")]
    KeyTooLong {
        /// The key's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A guest wrote a value larger than [`MAX_VALUE_SIZE`](crate::keyvalue::MAX_VALUE_SIZE).
    #[error("value of {len} bytes is larger than the limit of {max} bytes")]
    ValueTooLarge {
        /// The value's size in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A write would take its namespace past the key-value quota; nothing was written.
    #[error(
        "key-value quota exceeded: {used} bytes would pass the quota of {max} (quotas.max_kv_bytes); delete keys, or ask the operator to raise it"
    )]
    QuotaExceeded {
        /// Bytes the namespace would use with the write.
        used: u64,
        /// The quota in bytes.
        max: u64,
    },
    /// The embedded database failed.
    #[error("redb: {0}")]
    Redb(#[from] redb::Error),
    /// The embedded database file could not be opened or created.
    #[error("cannot open key-value database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What redb reported.
        source: redb::Error,
    },
    /// The Redis server failed or could not be reached.
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    /// A blocking storage task panicked or was cancelled.
    #[error("storage task did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// A guest passed a resource handle the host does not hold: a host invariant, so it traps.
    #[error("resource table: {0}")]
    Table(#[from] wasmtime::component::ResourceTableError),
}

impl Error {
    /// Who is to blame, for logs and metrics labels.
    pub fn blame(&self) -> Blame {
        match self {
            Error::InvalidScope { .. } => Blame::Client,
            Error::InvalidBucket { .. }
            | Error::UnknownCursor { .. }
            | Error::NotACounter { .. }
            | Error::CounterOverflow { .. }
            | Error::TooManyBuckets { .. }
            | Error::KeyTooLong { .. }
            | Error::ValueTooLarge { .. }
            | Error::QuotaExceeded { .. } => Blame::Guest,
            Error::Redb(_)
            | Error::Open { .. }
            | Error::Redis(_)
            | Error::Task(_)
            | Error::Table(_) => Blame::Host,
        }
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
