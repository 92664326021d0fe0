//! `[config]` values of a manifest, which the guest reads through `wasi:config`.

use crate::error::Result;
use crate::manifest::ensure;
use crate::secrets_settings::GATEWAY_ENV_PREFIX;
use serde::{Deserialize, Serialize};

/// A `[config]` value: given inline, or read from an environment variable of the gateway that
/// the operator allows in `[secrets] env`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    untagged,
    deny_unknown_fields,
    expecting = "a config value is a string, or `{ env = \"NAME\" }` to read an environment variable of the gateway"
)]
pub enum ConfigValue {
    /// `key = "value"`.
    Value(String),
    /// `key = { env = "NAME" }`: the value of the gateway's environment variable `NAME`.
    Env {
        /// The variable's name.
        env: String,
    },
}

/// An environment variable name a `[config]` value may read: `[A-Za-z_][A-Za-z0-9_]*`, outside
/// the gateway's own `WASMGATE_*` variables.
pub(crate) fn check_env_name(key: &str, env: &str) -> Result<()> {
    let well_formed = env.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && env.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    ensure(well_formed, || {
        format!(
            "config.{key}: `{}` is not an environment variable name: use letters, digits and '_', not starting with a digit",
            env.escape_debug()
        )
    })?;
    ensure(
        !env.to_ascii_uppercase().starts_with(GATEWAY_ENV_PREFIX),
        || {
            format!(
                "config.{key}: `{env}` belongs to the gateway's own settings: read another variable"
            )
        },
    )
}
