//! NATS subject rules: what a subject and a subscription pattern may look like, and which
//! subjects a pattern matches.
//!
//! A subject is a non-empty list of non-empty tokens joined by `.`, with no whitespace. A
//! pattern may also use two wildcard tokens: `*` matches exactly one token, and `>`, allowed
//! only as the last token, matches one or more trailing tokens. As in NATS, a wildcard
//! character inside a longer token (`a*b`) is an ordinary character.

use super::error::{Error, Result};

/// The token matching exactly one token.
const ONE: &str = "*";
/// The token matching one or more trailing tokens.
const REST: &str = ">";

/// Subject prefixes the host keeps for itself: `wasmgate.` (dead letters and other host
/// events) and `_INBOX.` (NATS request inboxes, which only the requester's reply may reach).
/// Guests and `POST /publish` may not publish there; a guest answers a request with `reply`.
pub const RESERVED_PREFIXES: [&str; 2] = ["wasmgate.", "_INBOX."];

/// Whether `subject` is one the host keeps for itself (see [`RESERVED_PREFIXES`]).
pub fn is_reserved(subject: &str) -> bool {
    RESERVED_PREFIXES
        .iter()
        .any(|prefix| subject.starts_with(prefix))
}

/// Checks that `subject` is valid to publish on: well formed and free of wildcards.
pub fn validate_subject(subject: &str) -> Result<()> {
    let invalid = |reason| Error::InvalidSubject {
        subject: subject.to_owned(),
        reason,
    };
    check_tokens(subject).map_err(invalid)?;
    if subject.split('.').any(|t| t == ONE || t == REST) {
        return Err(invalid(
            "wildcards `*` and `>` belong in subscriptions; publish on a concrete subject",
        ));
    }
    Ok(())
}

/// A validated subscription pattern, such as `orders.*.created` or `orders.>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Pattern(String);

impl Pattern {
    /// Parses `pattern`, refusing empty tokens, whitespace and a `>` that is not last.
    pub fn parse(pattern: impl Into<String>) -> Result<Self> {
        let pattern = pattern.into();
        let invalid = |reason| Error::InvalidPattern {
            pattern: pattern.clone(),
            reason,
        };
        check_tokens(&pattern).map_err(invalid)?;
        let mut tokens = pattern.split('.').peekable();
        while let Some(token) = tokens.next() {
            if token == REST && tokens.peek().is_some() {
                return Err(invalid(
                    "`>` matches the rest of the subject, so it must be the last token",
                ));
            }
        }
        Ok(Pattern(pattern))
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `subject` (assumed valid) is matched by this pattern.
    pub fn matches(&self, subject: &str) -> bool {
        let mut subject = subject.split('.');
        for token in self.0.split('.') {
            if token == REST {
                // `>` needs at least one token left to swallow.
                return subject.next().is_some();
            }
            match subject.next() {
                Some(s) if token == ONE || token == s => {}
                _ => return false,
            }
        }
        subject.next().is_none()
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The rules shared by subjects and patterns.
fn check_tokens(s: &str) -> std::result::Result<(), &'static str> {
    if s.is_empty() {
        return Err("it is empty; use dot-separated tokens such as `orders.created`");
    }
    if s.chars().any(char::is_whitespace) {
        return Err("it contains whitespace, which NATS uses as a protocol separator");
    }
    if s.split('.').any(str::is_empty) {
        return Err("it has an empty token; remove leading, trailing or doubled dots");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
