//! Message subjects a function subscribes to, in NATS syntax (`orders.*.created`, `audit.>`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest subject: well within what NATS accepts, and plenty for a dotted hierarchy.
pub const MAX_SUBJECT_LEN: usize = 256;

/// How to write a subject; the end of every error message.
const SUBJECT_RULE: &str = "write dot-separated words such as `orders.created`, with `*` for any one word and `>` as the last word for any rest";

/// A subject (or subject pattern) a trigger listens on.
///
/// Dot-separated, non-empty tokens of printable characters without spaces; `*` matches one token
/// and must be a whole token; `>` matches the rest and must be the whole last token.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subject(String);

impl Subject {
    /// The subject as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is a pattern (`*` or `>`) rather than one literal subject.
    pub fn is_wildcard(&self) -> bool {
        self.0.split('.').any(|token| token == "*" || token == ">")
    }
}

impl TryFrom<String> for Subject {
    type Error = Error;

    fn try_from(subject: String) -> Result<Self> {
        match check(&subject) {
            Ok(()) => Ok(Subject(subject)),
            Err(problem) => Err(Error::InvalidSubject {
                reason: format!("{problem}; {SUBJECT_RULE}"),
                subject,
            }),
        }
    }
}

fn check(subject: &str) -> std::result::Result<(), String> {
    if subject.is_empty() {
        return Err("it is empty".into());
    }
    if subject.len() > MAX_SUBJECT_LEN {
        return Err(format!(
            "it is {} bytes long, over {MAX_SUBJECT_LEN}",
            subject.len()
        ));
    }
    if let Some(c) = subject
        .chars()
        .find(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("{c:?} is not allowed"));
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let last = tokens.len() - 1;
    for (i, token) in tokens.iter().enumerate() {
        if token.is_empty() {
            return Err("it has an empty word (a leading, trailing or doubled '.')".into());
        }
        if token.len() > 1 && token.contains(['*', '>']) {
            return Err(format!("`{token}` mixes a wildcard with other characters"));
        }
        if *token == ">" && i != last {
            return Err("`>` is only allowed as the last word".into());
        }
    }
    Ok(())
}

impl FromStr for Subject {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::try_from(s.to_owned())
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Subject> for String {
    fn from(subject: Subject) -> String {
        subject.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(subject: &str) -> String {
        match subject.parse::<Subject>() {
            Err(e @ Error::InvalidSubject { .. }) => e.to_string(),
            other => panic!("{subject:?} should be refused, got {other:?}"),
        }
    }

    #[test]
    fn literal_subjects_and_patterns_are_accepted() {
        for (subject, wildcard) in [
            ("orders", false),
            ("orders.created", false),
            ("orders.*.created", true),
            ("audit.>", true),
            (">", true),
            ("*", true),
            ("a-b_c.d$e", false),
            ("caf\u{e9}.x", false),
        ] {
            let parsed: Subject = subject.parse().unwrap();
            assert_eq!((parsed.as_str(), parsed.is_wildcard()), (subject, wildcard));
        }
        assert!("a".repeat(MAX_SUBJECT_LEN).parse::<Subject>().is_ok());
    }

    #[test]
    fn malformed_subjects_are_refused_with_the_rule() {
        for (subject, hint) in [
            ("", "empty"),
            (".a", "empty word"),
            ("a.", "empty word"),
            ("a..b", "empty word"),
            ("a b", "' ' is not allowed"),
            ("a\u{0}b", "is not allowed"),
            ("a.>.b", "last word"),
            ("a.b*", "mixes a wildcard"),
            ("a.>x", "mixes a wildcard"),
        ] {
            let message = refused(subject);
            assert!(
                message.contains(hint) && message.contains("`orders.created`"),
                "{subject:?}: {message}"
            );
        }
        assert!(refused(&"a".repeat(MAX_SUBJECT_LEN + 1)).contains("over 256"));
    }
}
