//! Function names: what `PUT /functions/{name}` registers and `/fn/{name}` invokes.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest function name: a DNS label, so a name can also be a hostname or a metrics label.
pub const MAX_NAME_LEN: usize = 63;

/// How to write a valid name; every error message ends with it.
const NAME_RULE: &str = "use 1-63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit";

/// The name of a deployed function, checked to be a DNS-1035 label (`hello`, `image-resize-2`).
///
/// The same name appears in URLs, file names, metrics labels and log lines, so it is kept to the
/// one alphabet that is safe in all of them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FunctionName(String);

impl FunctionName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FunctionName {
    type Error = Error;

    fn try_from(name: String) -> Result<Self> {
        let problem = if name.is_empty() {
            Some("it is empty".to_owned())
        } else if let Some(c) = name
            .chars()
            .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
        {
            Some(format!("{} is not allowed", shown_char(c)))
        } else if name.len() > MAX_NAME_LEN {
            Some(format!("it is {} characters long", name.len()))
        } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            Some("it does not start with a letter".to_owned())
        } else if name.ends_with('-') {
            Some("it ends with '-'".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => Err(Error::InvalidName {
                name,
                reason: format!("{problem}; {NAME_RULE}"),
            }),
            None => Ok(FunctionName(name)),
        }
    }
}

/// A character as quoted in a message; non-ASCII ones get their code point, since a Cyrillic `о`
/// looks exactly like a Latin `o`.
fn shown_char(c: char) -> String {
    if c.is_ascii() {
        format!("{c:?}")
    } else {
        format!("{c:?} (U+{:04X})", u32::from(c))
    }
}

impl FromStr for FunctionName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::try_from(s.to_owned())
    }
}

impl fmt::Display for FunctionName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for FunctionName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<FunctionName> for String {
    fn from(name: FunctionName) -> String {
        name.0
    }
}

#[cfg(test)]
mod tests;
