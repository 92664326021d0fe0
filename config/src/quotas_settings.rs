//! Quotas (`[quotas]`): how much one node, one function and one subscription may keep.
//!
//! Limits elsewhere bound what one request or one call may do; these bound what piles up over
//! time: deployed functions, compiled code on disk, key-value data and undelivered messages.
//! Each refusal names the key to raise.

use crate::byte_size::ByteSize;
use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;
use std::ops::RangeInclusive;

/// Functions one node serves: 10,000, the scale the design targets and measures (10,000 idle
/// functions at under 5KiB of memory each, zero instances). Past it `507 quota_exceeded`, so a
/// deploy loop stops long before the registry and the route table grow unbounded; replacing a
/// deployed function never counts as a new one.
pub const DEFAULT_MAX_FUNCTIONS: u32 = 10_000;

/// Accepted values of `quotas.max_functions`: at least one, at most a million, beyond which the
/// quota no longer protects the node.
pub const MAX_FUNCTIONS_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 1_000_000);

/// Bytes of compiled artifacts (and, once they are kept, signed originals) on the node's disk:
/// 10GiB. A release component is a few MiB and its artifact a few times that; artifacts are
/// content-addressed, so the same code deployed under many names is stored (and counted) once.
/// 10GiB holds a thousand distinct 10MiB artifacts, fits any server disk, and stops a deploy loop
/// of distinct components with `507 quota_exceeded` before it fills the disk the registry and
/// key-value data share.
pub const DEFAULT_MAX_STORED_BYTES: ByteSize = ByteSize::gib(10);

/// Key-value bytes (keys plus values) one function keeps in its own buckets, and each shared
/// bucket keeps: 100MiB. An entry is a record of at most 1MiB, so this holds a hundred maximal
/// values or about a hundred thousand small ones, ample for a handler's state; a guest writing in
/// a loop is refused within seconds instead of filling the node's disk (or Redis's memory), and a
/// hundred functions at their quota still fit in 10GiB.
pub const DEFAULT_MAX_KV_BYTES: ByteSize = ByteSize::mib(100);

/// Messages one subscription may have accepted and not yet handled: 10,000. At a steady 1,000
/// messages a second that is ten seconds of a stalled handler, enough for a deploy or a retry
/// backoff; past it publishers get `503 backlog_full` with `Retry-After` instead of the node
/// queueing without end (and reloading it all at restart).
pub const DEFAULT_MAX_BACKLOG_MESSAGES: u32 = 10_000;

/// Accepted values of `quotas.max_backlog_messages`: at least one, at most ten million.
pub const BACKLOG_MESSAGES_RANGE: RangeInclusive<u32> = RangeInclusive::new(1, 10_000_000);

/// Bytes of messages one subscription may have accepted and not yet handled: 64MiB, the largest
/// body `POST /publish` takes by default (`max_module_size`) and the most a guest's messages may
/// hold in the host, so one message of any size the node accepts fits. The embedded bus holds a
/// subscription's backlog in memory, so this is also its memory bound per subscription.
pub const DEFAULT_MAX_BACKLOG_BYTES: ByteSize = ByteSize::mib(64);

/// What one node, function and subscription may keep (`[quotas]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaSettings {
    /// Functions deployed on the node; a new name past it gets `507 quota_exceeded` before
    /// anything is compiled. Within [`MAX_FUNCTIONS_RANGE`].
    pub max_functions: u32,
    /// Bytes of the stored blobs deployed functions use (precompiled artifacts; each
    /// content-addressed blob counted once); a deploy that would pass it gets `507
    /// quota_exceeded` and its new artifact is removed. Above zero.
    pub max_stored_bytes: ByteSize,
    /// Key-value bytes (key plus value of every entry) in one function's own buckets, and in
    /// each shared bucket; a write past it fails with the guest's `error::other("key-value quota
    /// exceeded ...")` and writes nothing. Above zero.
    pub max_kv_bytes: ByteSize,
    /// Messages one subscription may have accepted and not yet handled; a publish past it gets
    /// `503 backlog_full` with `Retry-After` (a guest's `send` fails) and is not accepted. Within
    /// [`BACKLOG_MESSAGES_RANGE`].
    pub max_backlog_messages: u32,
    /// Bytes (data and metadata) of the messages one subscription may have accepted and not yet
    /// handled; as `max_backlog_messages`. A single larger message gets `413`. Above zero.
    pub max_backlog_bytes: ByteSize,
}

impl Default for QuotaSettings {
    fn default() -> Self {
        QuotaSettings {
            max_functions: DEFAULT_MAX_FUNCTIONS,
            max_stored_bytes: DEFAULT_MAX_STORED_BYTES,
            max_kv_bytes: DEFAULT_MAX_KV_BYTES,
            max_backlog_messages: DEFAULT_MAX_BACKLOG_MESSAGES,
            max_backlog_bytes: DEFAULT_MAX_BACKLOG_BYTES,
        }
    }
}

impl QuotaSettings {
    /// Checks each quota, naming the key to change.
    pub(crate) fn validate(&self) -> Result<()> {
        ensure(MAX_FUNCTIONS_RANGE.contains(&self.max_functions), || {
            format!(
                "quotas.max_functions {} is out of range: set {} to {}, e.g. {DEFAULT_MAX_FUNCTIONS}",
                self.max_functions,
                MAX_FUNCTIONS_RANGE.start(),
                MAX_FUNCTIONS_RANGE.end()
            )
        })?;
        for (key, value, default) in [
            (
                "max_stored_bytes",
                self.max_stored_bytes,
                DEFAULT_MAX_STORED_BYTES,
            ),
            ("max_kv_bytes", self.max_kv_bytes, DEFAULT_MAX_KV_BYTES),
            (
                "max_backlog_bytes",
                self.max_backlog_bytes,
                DEFAULT_MAX_BACKLOG_BYTES,
            ),
        ] {
            ensure(value.bytes() > 0, || {
                format!("quotas.{key} is zero: nothing could be stored; set e.g. `{default}`")
            })?;
        }
        ensure(
            BACKLOG_MESSAGES_RANGE.contains(&self.max_backlog_messages),
            || {
                format!(
                    "quotas.max_backlog_messages {} is out of range: set {} to {}, e.g. {DEFAULT_MAX_BACKLOG_MESSAGES}",
                    self.max_backlog_messages,
                    BACKLOG_MESSAGES_RANGE.start(),
                    BACKLOG_MESSAGES_RANGE.end()
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(toml: &str) -> String {
        let settings: QuotaSettings = toml::from_str(toml).unwrap();
        let e = settings.validate().unwrap_err();
        assert_eq!(e.code(), "invalid_config");
        e.to_string()
    }

    #[test]
    fn defaults_are_valid_and_each_quota_is_checked_with_its_key_named() {
        QuotaSettings::default().validate().unwrap();
        assert!(refused("max_functions = 0").contains("quotas.max_functions"));
        assert!(refused("max_functions = 1000001").contains("quotas.max_functions"));
        assert!(refused("max_stored_bytes = \"0\"").contains("quotas.max_stored_bytes"));
        assert!(refused("max_kv_bytes = \"0\"").contains("quotas.max_kv_bytes"));
        assert!(refused("max_backlog_messages = 0").contains("quotas.max_backlog_messages"));
        assert!(refused("max_backlog_bytes = \"0\"").contains("quotas.max_backlog_bytes"));
        let edges: QuotaSettings = toml::from_str(
            "max_functions = 1\nmax_stored_bytes = \"1\"\nmax_kv_bytes = \"1\"\nmax_backlog_messages = 1\nmax_backlog_bytes = \"1\"",
        )
        .unwrap();
        edges.validate().unwrap();
    }
}
