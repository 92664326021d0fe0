//! The `[config]` values a function runs with: inline values, and environment variables of the
//! gateway that the operator allows in `[secrets] env`.
//!
//! The values never leave the pool: the API shows the manifest, which names the variable only,
//! and no log line carries a value. A name outside the allow list is refused with the same error
//! whether or not the variable exists, so a deployer cannot probe the gateway's environment.

use crate::error::ApiError;
use std::collections::BTreeMap;
use wasmgate_config::{ConfigValue, Manifest, SecretsSettings};

/// The manifest's `[config]`, each `{ env = "NAME" }` read from `env` when `allowed` lists it.
///
/// `400 invalid_manifest` for a name the operator did not allow (checked before the variable is
/// looked at, so the answer is the same whether it exists), and for an allowed name that is not
/// set; the messages differ.
pub fn resolve_config(
    manifest: &Manifest,
    allowed: &SecretsSettings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, ApiError> {
    manifest
        .config
        .iter()
        .map(|(key, value)| {
            let value = match value {
                ConfigValue::Value(v) => v.clone(),
                ConfigValue::Env { env: name } => {
                    if !allowed.allows(name) {
                        return Err(ApiError::SecretNotAllowed {
                            key: key.clone(),
                            env: name.clone(),
                        });
                    }
                    env(name).ok_or_else(|| ApiError::ConfigEnv {
                        key: key.clone(),
                        env: name.clone(),
                    })?
                }
            };
            Ok((key.clone(), value))
        })
        .collect()
}

/// The process environment as [`resolve_config`] reads it.
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(pattern: &str) -> SecretsSettings {
        SecretsSettings {
            env: vec![wasmgate_config::EnvPattern::try_from(pattern.to_owned()).unwrap()],
        }
    }

    #[test]
    fn only_allowed_names_are_read_and_a_refusal_does_not_depend_on_existence() {
        let manifest =
            Manifest::from_toml("[config]\nplain = \"v\"\nkey = { env = \"APP_KEY\" }\n").unwrap();
        let env = |name: &str| (name == "APP_KEY").then(|| "s3cret".to_owned());
        let config = resolve_config(&manifest, &allow("APP_*"), env).unwrap();
        assert_eq!(config["key"], "s3cret");
        assert_eq!(config["plain"], "v");

        let refused = |env: &dyn Fn(&str) -> Option<String>| {
            resolve_config(&manifest, &SecretsSettings::default(), env)
                .unwrap_err()
                .to_string()
        };
        let present = refused(&|_| Some("s3cret".to_owned()));
        assert_eq!(present, refused(&|_| None));
        assert!(present.contains("[secrets] env"), "{present}");
        assert!(!present.contains("s3cret"), "{present}");
    }
}
