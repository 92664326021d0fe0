//! The sticky key a manifest may name (`[traffic] sticky`): the request header or cookie whose
//! value keeps a client on one version while traffic is split between several.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How to write a sticky key; the end of every error message.
const STICKY_RULE: &str = "write `header:NAME` (e.g. `header:x-user-id`) or `cookie:NAME` (e.g. `cookie:session`), NAME being a valid header or cookie name";

/// Where a request carries the value that pins it to a version.
///
/// Parsed from `header:NAME` (the name lowercased, as HTTP/2 sends it) or `cookie:NAME`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum StickyKey {
    /// A request header, lowercase.
    Header(String),
    /// A cookie in the `Cookie` header, by name (case-sensitive, as cookies are).
    Cookie(String),
}

impl TryFrom<String> for StickyKey {
    type Error = Error;

    fn try_from(text: String) -> Result<Self> {
        let refuse = |problem: &str| Error::InvalidManifest {
            reason: format!(
                "traffic.sticky `{}` {problem}; {STICKY_RULE}",
                text.escape_debug()
            ),
        };
        let (kind, name) = text
            .split_once(':')
            .ok_or_else(|| refuse("names neither a header nor a cookie"))?;
        // RFC 9110 token characters: what a header name and a cookie name may hold.
        let token = !name.is_empty()
            && name.len() <= 256
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(refuse("has an empty or invalid name"));
        }
        match kind {
            "header" => Ok(StickyKey::Header(name.to_ascii_lowercase())),
            "cookie" => Ok(StickyKey::Cookie(name.to_owned())),
            _ => Err(refuse("starts with neither `header:` nor `cookie:`")),
        }
    }
}

impl From<StickyKey> for String {
    fn from(key: StickyKey) -> String {
        key.to_string()
    }
}

impl fmt::Display for StickyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StickyKey::Header(name) => write!(f, "header:{name}"),
            StickyKey::Cookie(name) => write!(f, "cookie:{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_cookies_parse_and_anything_else_is_an_invalid_manifest() {
        assert_eq!(
            StickyKey::try_from("header:X-User".to_owned()).unwrap(),
            StickyKey::Header("x-user".into())
        );
        assert_eq!(
            StickyKey::try_from("cookie:Session".to_owned()).unwrap(),
            StickyKey::Cookie("Session".into())
        );
        for bad in ["x-user", "query:a", "header:", "header:a b", "cookie:a;b"] {
            let e = StickyKey::try_from(bad.to_owned()).unwrap_err();
            assert_eq!(e.code(), "invalid_manifest", "{bad}");
            assert!(e.to_string().contains("traffic.sticky"), "{e}");
        }
    }
}
