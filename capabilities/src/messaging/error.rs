//! Why a messaging operation failed.

/// A messaging failure; [`Error::code`] names it in logs, metrics and API answers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A subject to publish on is malformed or contains a wildcard.
    #[error("invalid subject `{subject}`: {reason}")]
    InvalidSubject {
        /// The subject as given.
        subject: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// A subscription pattern is malformed.
    #[error("invalid subject pattern `{pattern}`: {reason}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// What is wrong with it and how to fix it.
        reason: &'static str,
    },
    /// A queue group name is empty or contains whitespace.
    #[error("invalid queue group `{queue}`: use a non-empty name without whitespace")]
    InvalidQueue {
        /// The name as given.
        queue: String,
    },
    /// A metadata pair cannot travel as a NATS header.
    #[error("metadata `{key}` cannot be sent as a header: {reason}")]
    InvalidMetadata {
        /// The metadata key.
        key: String,
        /// What the header rules refused.
        reason: String,
    },
    /// A message larger than the NATS server takes (its `max_payload`).
    #[error(
        "the message is {size} bytes as it goes on NATS (payload, CloudEvent envelope and headers), over the server's max_payload of {limit} bytes: send less, or raise max_payload on the NATS server"
    )]
    TooLargeForServer {
        /// Its size on the wire, in bytes.
        size: u64,
        /// The server's `max_payload`, in bytes.
        limit: u64,
    },
    /// A message whose `ce-` metadata (or a received payload claiming a CloudEvents format) is
    /// not a valid CloudEvent.
    #[error("invalid CloudEvent: {0}")]
    InvalidEvent(#[from] super::cloudevent::InvalidEvent),
    /// A request got no reply in time.
    #[error("no reply to a request on `{subject}` within {timeout_ms} ms")]
    Timeout {
        /// The subject the request was sent on.
        subject: String,
        /// How long the requester waited.
        timeout_ms: u128,
    },
    /// A request was sent on a subject nobody listens to.
    #[error("no responders on `{subject}`")]
    NoResponders {
        /// The subject the request was sent on.
        subject: String,
    },
    /// The durable message log failed to read or write.
    #[error("message log: {message}")]
    Storage {
        /// What the storage engine reported.
        message: String,
    },
    /// A stored message could not be decoded: the log file is damaged or from another version.
    #[error("stored message {id} is unreadable: {reason}")]
    Corrupt {
        /// The message's key in the log.
        id: u64,
        /// What did not decode.
        reason: &'static str,
    },
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at `{url}`: {message}")]
    Connect {
        /// The server address.
        url: String,
        /// The client's explanation.
        message: String,
    },
    /// A NATS operation failed after connecting.
    #[error("NATS {operation} failed: {message}")]
    Nats {
        /// Which operation: `publish`, `subscribe`, `request`, `flush`.
        operation: &'static str,
        /// The client's explanation.
        message: String,
    },
    /// A subscription the message would go to already holds its backlog quota; nothing was
    /// accepted, and retrying once it has caught up succeeds.
    #[error(
        "a subscriber of `{subject}` has {waiting} waiting, its backlog quota of {limit} (quotas.{quota}): retry later"
    )]
    BacklogFull {
        /// The subject published on.
        subject: String,
        /// The quota's key under `[quotas]`: `max_backlog_messages` or `max_backlog_bytes`.
        quota: &'static str,
        /// Messages or bytes waiting for that subscriber.
        waiting: u64,
        /// The quota.
        limit: u64,
    },
    /// A message larger than a subscription's whole backlog quota, which no subscriber could take.
    #[error(
        "the message is {size} bytes, more than a subscriber may hold waiting ({max} bytes, quotas.max_backlog_bytes): send less"
    )]
    TooLargeForBacklog {
        /// Bytes of data and metadata.
        size: u64,
        /// The quota.
        max: u64,
    },
    /// The bus has shut down (its writer thread is gone), so nothing more is accepted.
    #[error("the message bus is closed")]
    Closed,
}

impl Error {
    /// Wraps a storage engine failure; the text is kept, since one failed batch commit is
    /// reported to every publisher in it.
    pub(crate) fn storage(err: impl Into<redb::Error>) -> Self {
        Error::Storage {
            message: err.into().to_string(),
        }
    }

    /// A stable snake_case name for this failure: tests and metrics match on it, never on text.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidSubject { .. } => "invalid_subject",
            Error::InvalidPattern { .. } => "invalid_pattern",
            Error::InvalidQueue { .. } => "invalid_queue",
            Error::InvalidMetadata { .. } => "invalid_metadata",
            Error::InvalidEvent(_) => "invalid_event",
            Error::Timeout { .. } => "timeout",
            Error::NoResponders { .. } => "no_responders",
            Error::Storage { .. } => "storage",
            Error::Corrupt { .. } => "corrupt_log",
            Error::Connect { .. } => "connection",
            Error::Nats { .. } => "nats",
            Error::Closed => "closed",
            Error::BacklogFull { .. } => "backlog_full",
            Error::TooLargeForBacklog { .. } | Error::TooLargeForServer { .. } => {
                "message_too_large"
            }
        }
    }
}

/// The result of a messaging operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
