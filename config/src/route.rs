//! Extra HTTP paths a function asks to serve, in matchit syntax (`/api/{id}`, `/files/{*rest}`).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Longest route: far beyond any real path, short enough to keep the route table small.
pub const MAX_ROUTE_LEN: usize = 1024;

/// Whether `path` can be the path (and query) of a request the host sends a guest itself (a
/// schedule's fire, a health check): starts with `/`, at most [`MAX_ROUTE_LEN`] bytes of
/// printable ASCII without spaces or a `#` fragment.
pub(crate) fn is_request_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() <= MAX_ROUTE_LEN
        && path.bytes().all(|b| b.is_ascii_graphic() && b != b'#')
}

/// Most parameters in one route: far beyond any real path, and below the 25 that matchit 0.9
/// can take (it panics on the 26th).
pub const MAX_ROUTE_PARAMS: usize = 16;

/// First path segments the gateway serves itself; a manifest route may not start with one.
pub const RESERVED_PREFIXES: [&str; 8] = [
    "functions",
    "fn",
    "publish",
    "async",
    "calls",
    "metrics",
    "healthz",
    "readyz",
];

/// A path pattern that invokes a function with the full request path.
///
/// Starts with `/`, has no whitespace, `?` or `#`, at most one `{param}` per segment and
/// [`MAX_ROUTE_PARAMS`] in all, and a `{*catch_all}` only as the whole last segment; `{{` and `}}`
/// are literal braces. Its first segment may not be one the gateway serves itself (see
/// [`RESERVED_PREFIXES`]): `/fnord` is fine, `/fn` and `/fn/x` are not.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Route(String);

impl Route {
    /// The pattern as text, ready for `matchit::Router::insert`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Route {
    type Error = Error;

    fn try_from(route: String) -> Result<Self> {
        match check(&route) {
            Ok(()) => Ok(Route(route)),
            Err(reason) => Err(Error::InvalidRoute { route, reason }),
        }
    }
}

fn check(route: &str) -> std::result::Result<(), String> {
    if !route.starts_with('/') {
        return Err("start it with '/', e.g. `/api/{id}`".into());
    }
    if route.len() > MAX_ROUTE_LEN {
        return Err(format!(
            "it is {} bytes long; use at most {MAX_ROUTE_LEN}",
            route.len()
        ));
    }
    if let Some(c) = route
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || *c == '?' || *c == '#')
    {
        return Err(format!(
            "remove the {c:?}: a route is a path, without spaces, query or fragment"
        ));
    }
    let segments: Vec<&str> = route[1..].split('/').collect();
    if let Some(reserved) = RESERVED_PREFIXES.iter().find(|p| **p == segments[0]) {
        return Err(format!(
            "`/{reserved}` belongs to the gateway; pick a path outside /{}",
            RESERVED_PREFIXES.join(", /")
        ));
    }
    let last = segments.len() - 1;
    let mut params = 0;
    for (i, segment) in segments.iter().enumerate() {
        params += check_segment(segment, i == last)?;
    }
    if params > MAX_ROUTE_PARAMS {
        return Err(format!(
            "it has {params} parameters; use at most {MAX_ROUTE_PARAMS}"
        ));
    }
    Ok(())
}

/// Checks the matchit rules for one segment: braces paired or doubled, one parameter at most,
/// parameter names of letters, digits and `_`, a catch-all only as the whole last segment.
/// Returns how many parameters it has.
fn check_segment(segment: &str, is_last: bool) -> std::result::Result<usize, String> {
    let mut params = 0;
    let mut rest = segment;
    while let Some(i) = rest.find(['{', '}']) {
        let (brace, after) = (&rest[i..=i], &rest[i + 1..]);
        if after.starts_with(brace) {
            rest = &after[1..];
            continue;
        }
        if brace == "}" {
            return Err("unmatched '}': write `}}` for a literal brace".into());
        }
        let end = after.find('}').ok_or(
            "unclosed '{': close the parameter with '}', or write `{{` for a literal brace",
        )?;
        let name = &after[..end];
        let catch_all = name.strip_prefix('*');
        let bare = catch_all.unwrap_or(name);
        if bare.is_empty() || !bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "parameter `{{{name}}}`: name it with letters, digits and '_', e.g. `{{id}}`"
            ));
        }
        if catch_all.is_some() && (!is_last || segment.len() != name.len() + 2) {
            return Err(format!(
                "`{{{name}}}` catches the rest of the path: make it the whole last segment"
            ));
        }
        params += 1;
        if params > 1 {
            return Err(format!(
                "segment `{segment}` has more than one parameter; use one per segment"
            ));
        }
        rest = &after[end + 1..];
        // matchit 0.9 reads `{id}}}` as a parameter named `id}`, and refuses `{id}{{`.
        if rest.starts_with(['{', '}']) {
            return Err(format!(
                "parameter `{{{name}}}` is directly followed by a literal brace, which the router \
                 misreads: put another character between them"
            ));
        }
    }
    Ok(params)
}

impl FromStr for Route {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Self::try_from(s.to_owned())
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Route> for String {
    fn from(route: Route) -> String {
        route.0
    }
}

#[cfg(test)]
mod tests;
