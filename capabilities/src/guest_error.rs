//! What a guest is told when something fails: a short sentence per kind of failure, never a host
//! path, source location, backtrace or the name of a crate behind it.
//!
//! Every place that turns an error into text a guest can read (a `wasi:io` error's debug string, a
//! key-value or messaging `other(..)`/`connection(..)`, a trap's message) goes through
//! [`guest_message`]. A host failure tells the guest only its kind: its detail (a file path, a
//! backend's message, a backtrace captured under `RUST_BACKTRACE=1`) is the operator's and goes to
//! the log with the function and request. A failure of the guest's own making keeps its message,
//! which names the guest's own input and the limit it hit, when that message passes the same
//! check; otherwise it too is told only the kind.

use crate::Blame;
use std::fmt::Display;

/// Longest text a guest is handed for one failure, in bytes: a sentence with a name and a number
/// in it fits; a dump of internals does not.
pub const MAX_GUEST_MESSAGE: usize = 200;

/// Fragments that mark text as host detail (compared in lower case): source paths and locations,
/// backtraces and panics, and the crates a message from the host's stack would name.
const HOST_DETAIL: &[&str] = &[
    "src/",
    ".rs:",
    "backtrace",
    "panicked",
    "os error",
    "wasmtime",
    "wasmgate",
    "cranelift",
    "anyhow",
    "hyper",
    "tokio",
    "redb",
    "redis",
    "nats",
    "rustc",
    "cargo",
];

/// The text a guest is handed for a failure of `kind`.
///
/// `kind` is a fixed sentence naming the failure ("storage failure", "request body too large").
/// When `blame` is [`Blame::Host`] the guest gets `kind` and nothing else. Otherwise it gets
/// `error`'s own message if that is fit for a guest (see [`is_fit_for_guest`]), else `kind`.
pub fn guest_message(kind: &'static str, blame: Blame, error: &dyn Display) -> String {
    debug_assert!(is_fit_for_guest(kind), "{kind:?} is not fit for a guest");
    if blame == Blame::Host {
        return kind.to_owned();
    }
    let text = error.to_string();
    if is_fit_for_guest(&text) {
        text
    } else {
        kind.to_owned()
    }
}

/// Whether `text` may be shown to a guest as it is: one non-empty line of at most
/// [`MAX_GUEST_MESSAGE`] bytes with no path separator, no source location, no backtrace frame and
/// no name of a crate on the host's side.
pub fn is_fit_for_guest(text: &str) -> bool {
    if text.trim().is_empty() || text.len() > MAX_GUEST_MESSAGE {
        return false;
    }
    if text.contains(['\n', '\r', '/', '\\']) || text.contains("::") {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    !HOST_DETAIL.iter().any(|fragment| lower.contains(fragment))
}

#[cfg(test)]
mod tests;
