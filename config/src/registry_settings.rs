//! The OCI registries a node pulls components from (`[registries."HOST"]`).
//!
//! `PUT /functions/NAME` with `{"oci": "oci://HOST/REPO:TAG"}` makes the gateway pull the
//! component from HOST (the OCI Distribution Specification, v1.1,
//! <https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md>) and deploy it like
//! an upload. Any registry is reachable through the egress guard without an entry here; an entry
//! gives it credentials, or plain HTTP for a registry beside the gateway:
//!
//! ```toml
//! [registries."ghcr.io"]
//! username = "deploy-bot"
//! password_env = "GHCR_TOKEN"   # the gateway's variable holding the password or token
//!
//! [registries."127.0.0.1:5000"]
//! plain_http = true
//! ```
//!
//! The password is never written in the file: it is read from the named variable when the
//! gateway starts, and a variable that is missing stops the start.

use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;

/// One registry's settings (`[registries."HOST"]`, HOST as in references: `ghcr.io`,
/// `registry.example.com:5000`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrySettings {
    /// User name for HTTP Basic credentials, sent directly or to the registry's token service
    /// (the Docker token flow). Unset: pulls are anonymous.
    pub username: Option<String>,
    /// Name of the environment variable holding the password or token; required with
    /// `username`.
    pub password_env: Option<String>,
    /// Speak plain `http://` to this registry (a local registry beside the gateway). Off: only
    /// `https://`.
    pub plain_http: bool,
}

impl RegistrySettings {
    /// Checks the host spelling and that credentials come whole, naming the key to change.
    pub(crate) fn validate(&self, host: &str) -> Result<()> {
        ensure(valid_host(host), || {
            format!(
                "registries.\"{}\" is not a registry host: write HOST or HOST:PORT as in an oci:// reference, e.g. `ghcr.io` or `127.0.0.1:5000`",
                host.escape_debug()
            )
        })?;
        ensure(
            self.username.is_some() == self.password_env.is_some(),
            || {
                format!(
                    "registries.\"{host}\" has only one of username and password_env: set both (password_env names the variable holding the password), or neither for anonymous pulls"
                )
            },
        )?;
        if let Some(var) = &self.password_env {
            ensure(
                !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                || {
                    format!(
                        "registries.\"{host}\".password_env `{}` is not a variable name: name the environment variable holding the password, e.g. `GHCR_TOKEN`",
                        var.escape_debug()
                    )
                },
            )?;
        }
        Ok(())
    }
}

/// A registry host as references spell it: a DNS name or IPv4 address, or a bracketed IPv6
/// address, with an optional port; lowercase as the distribution spec's references are.
fn valid_host(host: &str) -> bool {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && !port.contains(']') => (name, Some(port)),
        _ => (host, None),
    };
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|p| p > 0));
    let name_ok = if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        inner.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    };
    port_ok && name_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_checked_and_credentials_come_whole() {
        let anonymous = RegistrySettings::default();
        for host in [
            "ghcr.io",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
            "a-b.example.com",
        ] {
            anonymous.validate(host).unwrap();
        }
        for host in [
            "",
            "GHCR.io",
            "ghcr.io:0",
            "ghcr.io:99999",
            "a/b",
            "-x.io",
            "[zz]:1",
            "a..b",
        ] {
            let e = anonymous.validate(host).unwrap_err().to_string();
            assert!(e.contains("is not a registry host"), "{host}: {e}");
        }
        let half = RegistrySettings {
            username: Some("bot".into()),
            ..RegistrySettings::default()
        };
        let e = half.validate("ghcr.io").unwrap_err().to_string();
        assert!(e.contains("set both"), "{e}");
        let bad_var = RegistrySettings {
            username: Some("bot".into()),
            password_env: Some("GHCR TOKEN".into()),
            plain_http: false,
        };
        let e = bad_var.validate("ghcr.io").unwrap_err().to_string();
        assert!(e.contains("not a variable name"), "{e}");
    }
}
