//! Which function names a trusted issuer may sign (`[admission.issuer_names]`).
//!
//! An operator sharing one gateway between teams gives each team's signing key the names it
//! owns: `"<issuer key>" = ["team-a-*", "billing"]`. A deploy of any other name signed by that
//! key is refused (`name_not_allowed`). Issuers without an entry may sign any name, and the first
//! of them to deploy a name owns it.

use crate::error::{Error, Result, shown};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One entry of an issuer's name list: an exact function name, or a prefix followed by `*`.
///
/// The text before a `*` uses the function-name alphabet (lowercase letters, digits, `-`), so a
/// pattern can only ever match valid names; a bare `*` is allowed and means every name (the same
/// as leaving the issuer out, but explicit).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NamePattern {
    /// The name, or the prefix without its `*`.
    stem: String,
    /// Whether the pattern ended in `*`.
    prefix: bool,
}

impl NamePattern {
    /// Whether `name` is this name, or starts with this prefix.
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.starts_with(&self.stem)
        } else {
            name == self.stem
        }
    }
}

impl TryFrom<String> for NamePattern {
    type Error = Error;

    fn try_from(pattern: String) -> Result<Self> {
        let (stem, prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (pattern.as_str(), false),
        };
        let well_formed = (prefix || !stem.is_empty())
            && stem.len() <= crate::MAX_NAME_LEN
            && stem
                .chars()
                .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-'));
        if !well_formed {
            return Err(Error::InvalidSettings {
                reason: format!(
                    "admission.issuer_names: `{}` is not a name pattern: write a function name (`billing`) or a prefix ending in `*` (`team-a-*`), in lowercase letters, digits and '-'",
                    shown(&pattern)
                ),
            });
        }
        Ok(NamePattern {
            stem: stem.to_owned(),
            prefix,
        })
    }
}

impl From<NamePattern> for String {
    fn from(pattern: NamePattern) -> String {
        pattern.to_string()
    }
}

impl fmt::Display for NamePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let star = if self.prefix { "*" } else { "" };
        write!(f, "{}{star}", self.stem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> Result<NamePattern> {
        NamePattern::try_from(text.to_owned())
    }

    #[test]
    fn exact_names_and_prefixes_match_what_they_say() {
        let team = pattern("team-a-*").unwrap();
        assert!(team.matches("team-a-billing"));
        assert!(team.matches("team-a-"));
        assert!(!team.matches("team-b-billing"));
        assert!(!team.matches("team-a"));
        let exact = pattern("billing").unwrap();
        assert!(exact.matches("billing"));
        assert!(!exact.matches("billing-2"));
        assert!(pattern("*").unwrap().matches("anything"));
        assert_eq!(team.to_string(), "team-a-*");
    }

    #[test]
    fn patterns_outside_the_name_alphabet_are_refused_naming_the_key() {
        for bad in ["", "Team-*", "a/b", "team-*-x", "a b", "**"] {
            let err = pattern(bad).unwrap_err().to_string();
            assert!(err.contains("admission.issuer_names"), "{bad}: {err}");
        }
    }
}
