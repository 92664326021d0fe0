//! Who may reach the admin API and `/metrics`: the checks on tokens and on running without them.

use crate::defaults::MIN_TOKEN_LEN;
use crate::error::Result;
use crate::settings::Settings;
use crate::validate::ensure;

impl Settings {
    /// Refuses tokens too short or unsendable in a header, an open admin API anywhere but on
    /// loopback, and a non-loopback metrics listener without a token of its own.
    pub(crate) fn validate_access(&self) -> Result<()> {
        for (key, env, token) in [
            ("admin_token", "WASMGATE_ADMIN_TOKEN", &self.admin_token),
            (
                "metrics_token",
                "WASMGATE_METRICS_TOKEN",
                &self.metrics_token,
            ),
        ] {
            let Some(token) = token else { continue };
            ensure(token.bytes().all(|b| b.is_ascii_graphic()), || {
                format!(
                    "{key} may hold only printable ASCII without spaces, since clients send it in an `Authorization: Bearer` header"
                )
            })?;
            ensure(token.len() >= MIN_TOKEN_LEN, || {
                format!(
                    "{key} ({env}) is {} characters; use at least {MIN_TOKEN_LEN} random ones, e.g. from `openssl rand -base64 32`, or leave admin_token unset to have one generated in the data dir",
                    token.len()
                )
            })?;
        }
        if self.insecure_open_admin {
            ensure(self.admin_token.is_none(), || {
                "insecure_open_admin is set together with admin_token: keep the token and drop insecure_open_admin".to_owned()
            })?;
            ensure(self.listen.ip().is_loopback(), || {
                format!(
                    "insecure_open_admin would open the admin API to the network on {}: it is allowed only on a loopback listen address such as 127.0.0.1:8080; use the admin token instead",
                    self.listen
                )
            })?;
        }
        if let Some(addr) = self.metrics_listen {
            ensure(
                addr.ip().is_loopback() || self.metrics_token.is_some(),
                || {
                    format!(
                        "metrics_listen {addr} is not a loopback address: set metrics_token (WASMGATE_METRICS_TOKEN) so scrapers authenticate, or listen on 127.0.0.1"
                    )
                },
            )?;
            ensure(addr != self.listen || addr.port() == 0, || {
                format!("metrics_listen {addr} is the same address as listen: pick another port")
            })?;
        }
        Ok(())
    }
}
