//! Everything that can go wrong in the pool, named by what failed.

use std::path::PathBuf;

/// Who is to blame for an error: drives logs, metrics labels and the HTTP status the gateway picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    /// The caller sent something unusable.
    Client,
    /// The guest component misbehaved (trap, timeout, no response).
    Guest,
    /// The node itself failed (I/O, engine, exhausted resources).
    Host,
}

/// A pool failure; each variant carries what its message needs.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The uploaded bytes are not a usable wasi:http component.
    #[error("invalid component: {reason}")]
    InvalidComponent {
        /// Why the component was refused, in words a user can act on.
        reason: String,
    },
    /// The component imports interfaces of capabilities it was not granted.
    #[error("capability not granted: the component imports {}", interfaces.join(", "))]
    NotGranted {
        /// The imported interfaces no grant covers, sorted.
        interfaces: Vec<String>,
    },
    /// The function handles messages only: it exports no `wasi:http/incoming-handler` (WASI 0.2)
    /// nor `wasi:http/handler` (WASI 0.3).
    #[error(
        "this function handles messages only: it exports no wasi:http/incoming-handler nor wasi:http/handler"
    )]
    NoHttpHandler,
    /// The guest trapped (panic, out-of-bounds, memory limit, stack overflow, ...).
    #[error("guest trapped: {trap}")]
    GuestTrap {
        /// The trap as wasmtime describes it, including the guest backtrace when known.
        trap: String,
    },
    /// The guest finished without setting a response.
    #[error("guest returned no response: {reason}")]
    NoResponse {
        /// What the guest did instead.
        reason: String,
    },
    /// The guest did not answer within its time limit.
    #[error("guest did not answer within {limit:?}")]
    Timeout {
        /// The function's configured timeout.
        limit: std::time::Duration,
    },
    /// The guest's response body is (or declares itself) larger than the function's
    /// `max_response_body`; the guest was stopped.
    #[error(
        "the guest's response body exceeds the function's limit of {limit} bytes (limits.max_response_body)"
    )]
    ResponseTooLarge {
        /// The function's `max_response_body` in bytes.
        limit: u64,
    },
    /// The guest's response body is not as long as its `content-length` says: it wrote more,
    /// or finished (or aborted) it after fewer bytes.
    #[error(
        "the guest's response body does not match its content-length: {declared} bytes declared, {written} written"
    )]
    ResponseLength {
        /// The `content-length` the guest set.
        declared: u64,
        /// What it wrote: all of it, or (when it wrote too much) at least this much.
        written: u64,
    },
    /// The function is at `max_concurrency` and no slot freed within the queue timeout.
    #[error("function is at its concurrency limit of {limit}")]
    Saturated {
        /// The function's `max_concurrency`.
        limit: u32,
    },
    /// The node has no free instance slot left in the pooling allocator.
    #[error("node has no free instance slot: {reason}")]
    NodeSaturated {
        /// What ran out, as wasmtime reports it.
        reason: String,
    },
    /// An artifact file on disk could not be read, written or verified.
    #[error("artifact {path}: {reason}")]
    Artifact {
        /// The artifact's path inside the data dir.
        path: PathBuf,
        /// What went wrong with it.
        reason: String,
    },
    /// A stored signed original could not be read, written or removed.
    #[error("original {path}: {reason}")]
    Original {
        /// The original's path inside the data dir (for the operator's log only).
        path: PathBuf,
        /// What went wrong with it.
        reason: String,
    },
    /// A deployed function's precompiled code could not be loaded: its artifact is missing,
    /// damaged, or unreadable by this engine. The function stays deployed; calls are refused until
    /// the operator restores the file or the function is deployed again.
    #[error("function {function} cannot be loaded: artifact {}: {reason}", path.display())]
    Unavailable {
        /// The function's name.
        function: String,
        /// The artifact's path inside the data dir (for the operator's log only).
        path: PathBuf,
        /// What went wrong with it.
        reason: String,
    },
    /// The wasmtime engine could not be configured or failed internally.
    #[error("engine: {reason}")]
    Engine {
        /// wasmtime's message.
        reason: String,
    },
}

impl Error {
    /// Who is to blame, for logs, metrics labels and status codes.
    pub fn blame(&self) -> Blame {
        match self {
            Error::InvalidComponent { .. } | Error::NotGranted { .. } | Error::NoHttpHandler => {
                Blame::Client
            }
            Error::GuestTrap { .. }
            | Error::NoResponse { .. }
            | Error::Timeout { .. }
            | Error::ResponseTooLarge { .. }
            | Error::ResponseLength { .. } => Blame::Guest,
            Error::Saturated { .. } => Blame::Client,
            Error::NodeSaturated { .. }
            | Error::Artifact { .. }
            | Error::Original { .. }
            | Error::Unavailable { .. }
            | Error::Engine { .. } => Blame::Host,
        }
    }

    pub(crate) fn engine(e: impl std::fmt::Display) -> Self {
        Error::Engine {
            reason: format!("{e:#}"),
        }
    }

    /// The artifact error `self` as what it means for `function`: [`Error::Unavailable`]; any
    /// other error as it is.
    pub(crate) fn unavailable(self, function: &str) -> Self {
        match self {
            Error::Artifact { path, reason } => Error::Unavailable {
                function: function.to_owned(),
                path,
                reason,
            },
            other => other,
        }
    }

    pub(crate) fn artifact(path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Self {
        Error::Artifact {
            path: path.into(),
            reason: e.to_string(),
        }
    }
}

/// The pool's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
