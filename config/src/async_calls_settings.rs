//! Async calls (`[async_calls]`): how much one call may carry and keep, how many may wait, and
//! how long a result stays readable.
//!
//! Every accepted call is written to the data dir before its `202` and kept until its result
//! expires, so each bound here is also a bound on disk: one function's waiting calls hold at most
//! `max_queued × max_body`, and a result at most `max_result`.

use crate::byte_size::ByteSize;
use crate::duration::HumanDuration;
use crate::error::Result;
use crate::http_settings::HttpSettings;
use crate::validate::ensure;
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::time::Duration;

/// Largest async request body: 1MiB, the limit of the managed queues async calls stand in for.
/// AWS Lambda's `Invoke` takes at most 1 MB for an asynchronous invocation ("For asynchronous
/// invocations, the maximum payload size is 1 MB", Lambda API reference, `Invoke`; it was 256 KB
/// until 2025), and Google Cloud Tasks caps a task at 1 MB ("Maximum task size", Cloud Tasks
/// quotas and limits). A call is stored before it is answered, so this is what one request can
/// make the node write; larger inputs belong in an object store, referenced from the body. It
/// stays well below `http.max_request_body` (32MiB), the synchronous limit.
pub const DEFAULT_ASYNC_MAX_BODY: ByteSize = ByteSize::mib(1);

/// Calls of one function accepted and not yet finished (running ones included) before `429
/// async_queue_full`: 100 absorbs a burst of a hundred webhooks while 16 run at once, and bounds
/// what waits on disk for one function to 100 × [`DEFAULT_ASYNC_MAX_BODY`] = 100MiB. A caller
/// refused with `Retry-After` comes back when the queue has drained; a deeper backlog belongs in
/// a real queue (NATS JetStream, cluster mode).
pub const DEFAULT_ASYNC_MAX_QUEUED: u32 = 100;

/// Ceiling of `async_calls.max_body`: the limit async bodies had before they had their own
/// (`max_module_size`); each waiting call holds its body on disk and, while it runs, in memory.
pub const MAX_ASYNC_BODY: ByteSize = ByteSize::mib(64);

/// Accepted values of `async_calls.max_queued`: at least one call, at most a million, beyond
/// which the bound no longer protects the disk.
pub const ASYNC_MAX_QUEUED_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 1_000_000);

/// Largest response body kept as a call's result: 1MiB, the value this limit had as a
/// constant, symmetric with [`DEFAULT_ASYNC_MAX_BODY`]; a longer body is replaced by a note.
pub const DEFAULT_ASYNC_MAX_RESULT: ByteSize = ByteSize::mib(1);

/// Ceiling of `async_calls.max_result`: `GET /calls/{id}` holds a whole result in memory (as
/// JSON, base64 when binary) to answer, so a few parallel reads of a 64MiB result already take
/// hundreds of MiB.
pub const MAX_ASYNC_RESULT: ByteSize = ByteSize::mib(64);

/// How long a finished call's result stays readable: one hour, the time the gateway has always
/// kept results, ample for a caller polling `GET /calls/{id}` or a callback receiver that was
/// briefly down, short enough that results do not pile up on disk.
pub const DEFAULT_ASYNC_RETENTION: HumanDuration =
    HumanDuration::from_duration(Duration::from_secs(3600));

/// Bounds of async calls (`[async_calls]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsyncCallsSettings {
    /// Largest request body of `POST /async/...`; past it `413 payload_too_large` and nothing is
    /// stored. At most [`MAX_ASYNC_BODY`]; a lower `http.max_request_body` (what a function is
    /// ever given) applies instead.
    pub max_body: ByteSize,
    /// Calls of one function accepted and not yet finished; past it `429 async_queue_full`
    /// with `Retry-After`. Within [`ASYNC_MAX_QUEUED_RANGE`].
    pub max_queued: u32,
    /// Largest response body kept as a result; a longer one is replaced by a note. At most
    /// [`MAX_ASYNC_RESULT`].
    pub max_result: ByteSize,
    /// How long a finished call stays readable at `GET /calls/{id}`; never zero.
    pub retention: HumanDuration,
}

impl Default for AsyncCallsSettings {
    fn default() -> Self {
        AsyncCallsSettings {
            max_body: DEFAULT_ASYNC_MAX_BODY,
            max_queued: DEFAULT_ASYNC_MAX_QUEUED,
            max_result: DEFAULT_ASYNC_MAX_RESULT,
            retention: DEFAULT_ASYNC_RETENTION,
        }
    }
}

impl AsyncCallsSettings {
    /// The body limit in force: `max_body`, or `http.max_request_body` when that is lower (a
    /// function is never given more than that).
    pub fn body_limit(&self, http: &HttpSettings) -> u64 {
        self.max_body.bytes().min(http.max_request_body.bytes())
    }

    /// Checks each bound, naming the key to change.
    pub(crate) fn validate(&self) -> Result<()> {
        let body = self.max_body.bytes();
        ensure(body > 0 && body <= MAX_ASYNC_BODY.bytes(), || {
            format!(
                "async_calls.max_body {} is out of range: set above zero and at most `{MAX_ASYNC_BODY}`, e.g. `{DEFAULT_ASYNC_MAX_BODY}`",
                self.max_body
            )
        })?;
        ensure(ASYNC_MAX_QUEUED_RANGE.contains(&self.max_queued), || {
            format!(
                "async_calls.max_queued {} is out of range: set {} to {}, e.g. {DEFAULT_ASYNC_MAX_QUEUED}",
                self.max_queued,
                ASYNC_MAX_QUEUED_RANGE.start(),
                ASYNC_MAX_QUEUED_RANGE.end()
            )
        })?;
        let result = self.max_result.bytes();
        ensure(result > 0 && result <= MAX_ASYNC_RESULT.bytes(), || {
            format!(
                "async_calls.max_result {} is out of range: set above zero and at most `{MAX_ASYNC_RESULT}`, e.g. `{DEFAULT_ASYNC_MAX_RESULT}`",
                self.max_result
            )
        })?;
        ensure(!self.retention.is_zero(), || {
            format!(
                "async_calls.retention is zero: keep results long enough to be read, e.g. `{DEFAULT_ASYNC_RETENTION}`"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(toml: &str) -> String {
        let settings: AsyncCallsSettings = toml::from_str(toml).unwrap();
        let e = settings.validate().unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        e.to_string()
    }

    #[test]
    fn defaults_are_valid_and_each_bound_is_checked_with_its_key_named() {
        AsyncCallsSettings::default().validate().unwrap();
        assert!(refused("max_body = \"0\"").contains("async_calls.max_body"));
        assert!(refused("max_body = \"65MiB\"").contains("async_calls.max_body"));
        assert!(refused("max_queued = 0").contains("async_calls.max_queued"));
        assert!(refused("max_result = \"65MiB\"").contains("async_calls.max_result"));
        assert!(refused("retention = \"0s\"").contains("async_calls.retention"));
    }

    #[test]
    fn a_lower_function_body_limit_applies_to_async_bodies_too() {
        let http = HttpSettings {
            max_request_body: ByteSize::kib(16),
            ..HttpSettings::default()
        };
        let settings = AsyncCallsSettings::default();
        assert_eq!(settings.body_limit(&http), 16 << 10);
        assert_eq!(settings.body_limit(&HttpSettings::default()), 1 << 20);
    }
}
