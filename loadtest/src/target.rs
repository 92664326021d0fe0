//! Where requests go: a base URL, and how a function name maps to a URL on it.

use crate::error::{Error, Result};
use http::Uri;

/// The placeholder a URL template replaces with the function name.
pub const NAME_PLACEHOLDER: &str = "{name}";

/// A server under test: `http://127.0.0.1:8080/fn/{name}` (a gateway: one URL per function) or
/// `http://127.0.0.1:8081/` (a plain server such as `wasmtime serve`: every "function" is the
/// one component it serves).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    template: String,
    origin: String,
}

impl Target {
    /// Parses a URL that may contain `{name}`; only `http://` is accepted, since the load path
    /// has no TLS and a TLS handshake would be measured instead of the server.
    pub fn parse(url: &str) -> Result<Target> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        // Validate with a sample name substituted, so a template is checked like a URL.
        let sample: Uri = url
            .replace(NAME_PLACEHOLDER, "lt-0")
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        match sample.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(invalid(&format!(
                    "scheme `{other}` is not supported; use http://"
                )));
            }
            None => return Err(invalid("no scheme; write it as http://HOST:PORT/...")),
        }
        let authority = sample
            .authority()
            .ok_or_else(|| invalid("no host; write it as http://HOST:PORT/..."))?;
        // The name must sit in the path: after the `/` that ends the authority.
        let in_path = match url.find(NAME_PLACEHOLDER) {
            None => true,
            Some(at) => url
                .get(..at)
                .and_then(|s| s.strip_prefix("http://"))
                .is_some_and(|before| before.contains('/')),
        };
        if !in_path || url.matches(NAME_PLACEHOLDER).count() > 1 {
            return Err(invalid("`{name}` may appear once, in the path"));
        }
        Ok(Target {
            template: url.to_owned(),
            origin: format!("http://{authority}"),
        })
    }

    /// Whether the URL names functions (`{name}`), i.e. whether the target can have several.
    pub fn has_functions(&self) -> bool {
        self.template.contains(NAME_PLACEHOLDER)
    }

    /// The URL as given, for reports.
    pub fn as_str(&self) -> &str {
        &self.template
    }

    /// `http://HOST:PORT`: where the admin API of a gateway target lives unless told otherwise.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The URL that invokes function `name` (the URL as given when it has no `{name}`).
    pub fn uri_for(&self, name: &str) -> Result<Uri> {
        let url = self.template.replace(NAME_PLACEHOLDER, name);
        url.parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
                reason: format!("with function name `{name}`: {e}"),
                url,
            })
    }

    /// The URLs of the given functions, in order, parsed once so the load loop only clones them.
    pub fn uris(&self, names: &[String]) -> Result<Vec<Uri>> {
        names.iter().map(|name| self.uri_for(name)).collect()
    }
}

/// The name of the `index`-th function a scenario deploys: `lt-0`, `lt-1`, ...
pub fn function_name(index: usize) -> String {
    format!("lt-{index}")
}

/// The names of the first `count` functions.
pub fn function_names(count: usize) -> Vec<String> {
    (0..count).map(function_name).collect()
}

#[cfg(test)]
mod tests;
