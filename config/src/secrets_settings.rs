//! Which environment variables of the gateway a manifest's `[config]` may read (`[secrets]`).
//!
//! A manifest value `{ env = "NAME" }` hands the variable's value to a guest. The gateway's
//! environment also holds what its operator never meant to share (cloud credentials such as
//! `AWS_SECRET_ACCESS_KEY`, the admin token), so nothing is readable until the operator lists
//! it: `[secrets] env = ["APP_*", "STRIPE_KEY"]`.

use crate::error::{Error, Result, shown};
use serde::Deserialize;

/// Prefix of the gateway's own variables (the admin token among them): never readable, whatever
/// the patterns say.
pub const GATEWAY_ENV_PREFIX: &str = "WASMGATE_";

/// The environment variables manifests may read (`[secrets]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecretsSettings {
    /// Names (`STRIPE_KEY`) and prefixes (`APP_*`) of readable variables; empty, the default,
    /// makes none readable.
    pub env: Vec<EnvPattern>,
}

impl SecretsSettings {
    /// Whether a manifest may read the variable `name`: it matches a pattern and is not one of
    /// the gateway's own `WASMGATE_*` variables (compared without case, as the manifest check).
    pub fn allows(&self, name: &str) -> bool {
        !is_gateway_own(name) && self.env.iter().any(|p| p.matches(name))
    }
}

/// One entry of `[secrets] env`: an exact variable name, or a prefix followed by `*`.
///
/// Names use letters, digits and `_` and do not start with a digit (POSIX portable names); a
/// bare `*` is refused because it would hand every credential of the gateway to any manifest,
/// and so is a pattern that can only match the gateway's own `WASMGATE_*` variables.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct EnvPattern {
    /// The name, or the prefix without its `*`.
    stem: String,
    /// Whether the pattern ended in `*`.
    prefix: bool,
}

impl EnvPattern {
    /// Whether `name` is this name, or starts with this prefix (case-sensitive, as the
    /// environment is).
    pub fn matches(&self, name: &str) -> bool {
        if self.prefix {
            name.starts_with(&self.stem)
        } else {
            name == self.stem
        }
    }
}

impl TryFrom<String> for EnvPattern {
    type Error = Error;

    fn try_from(pattern: String) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidEnvPattern {
            pattern: pattern.clone(),
            reason: reason.to_owned(),
        };
        let (stem, prefix) = match pattern.strip_suffix('*') {
            Some(stem) => (stem, true),
            None => (pattern.as_str(), false),
        };
        if stem.is_empty() {
            return Err(invalid(
                "a bare `*` would let every manifest read every variable of the gateway, cloud credentials included: list the names (`STRIPE_KEY`) or prefixes (`APP_*`) functions need",
            ));
        }
        let well_formed = stem.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !well_formed {
            return Err(invalid(
                "write a variable name of letters, digits and '_', not starting with a digit, optionally ending in `*` to allow a prefix",
            ));
        }
        if is_gateway_own(stem) {
            return Err(invalid(
                "WASMGATE_* variables hold the gateway's own settings, the admin token among them, and are never readable: allow another name",
            ));
        }
        Ok(EnvPattern {
            stem: stem.to_owned(),
            prefix,
        })
    }
}

impl std::fmt::Display for EnvPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let star = if self.prefix { "*" } else { "" };
        write!(f, "{}{star}", shown(&self.stem))
    }
}

/// Whether `name` is one of the gateway's own variables, compared without case.
fn is_gateway_own(name: &str) -> bool {
    name.get(..GATEWAY_ENV_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(GATEWAY_ENV_PREFIX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(patterns: &[&str]) -> SecretsSettings {
        SecretsSettings {
            env: patterns
                .iter()
                .map(|p| EnvPattern::try_from((*p).to_owned()).unwrap())
                .collect(),
        }
    }

    #[test]
    fn nothing_is_readable_by_default() {
        let none = SecretsSettings::default();
        assert!(!none.allows("HOME"));
        assert!(!none.allows("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn exact_names_and_prefixes_match_case_sensitively() {
        let s = secrets(&["APP_*", "STRIPE_KEY"]);
        assert!(s.allows("APP_DB_PASSWORD"));
        assert!(s.allows("APP_"));
        assert!(s.allows("STRIPE_KEY"));
        assert!(!s.allows("STRIPE_KEY2"));
        assert!(!s.allows("stripe_key"));
        assert!(!s.allows("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn the_gateways_own_variables_are_never_readable() {
        let s = secrets(&["W*", "WASM*"]);
        assert!(s.allows("WEB_TOKEN"));
        assert!(!s.allows("WASMGATE_ADMIN_TOKEN"));
        assert!(!s.allows("wasmgate_admin_token"));
    }

    #[test]
    fn malformed_or_overbroad_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "1ABC",
            "A-B",
            "A*B",
            "A**",
            "WASMGATE_*",
            "wasmgate_admin_token",
        ] {
            let e = EnvPattern::try_from(bad.to_owned()).unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{bad}");
        }
        let e = toml::from_str::<SecretsSettings>("env = [\"*\"]").unwrap_err();
        assert!(e.message().contains("bare `*`"), "{e}");
    }
}
