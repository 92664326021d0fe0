//! Layering: defaults < settings file < `WASMGATE_*` environment < command-line flags.

use crate::error::{Error, Result, describe_toml};
use crate::log_format::LogFormat;
use crate::settings::Settings;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Environment variable overriding [`Settings::listen`].
pub const ENV_LISTEN: &str = "WASMGATE_LISTEN";
/// Environment variable overriding [`Settings::data_dir`].
pub const ENV_DATA_DIR: &str = "WASMGATE_DATA_DIR";
/// Environment variable replacing [`Settings::trusted_issuers`], comma-separated.
pub const ENV_TRUSTED_ISSUERS: &str = "WASMGATE_TRUSTED_ISSUERS";
/// Environment variable overriding [`Settings::admin_token`].
pub const ENV_ADMIN_TOKEN: &str = "WASMGATE_ADMIN_TOKEN";
/// Environment variable overriding [`Settings::metrics_token`].
pub const ENV_METRICS_TOKEN: &str = "WASMGATE_METRICS_TOKEN";
/// Environment variable overriding [`Settings::metrics_listen`].
pub const ENV_METRICS_LISTEN: &str = "WASMGATE_METRICS_LISTEN";
/// Environment variable overriding [`Settings::insecure_open_admin`] (`true` or `false`).
pub const ENV_INSECURE_OPEN_ADMIN: &str = "WASMGATE_INSECURE_OPEN_ADMIN";
/// Environment variable overriding [`Settings::log_format`].
pub const ENV_LOG_FORMAT: &str = "WASMGATE_LOG_FORMAT";
/// Environment variable overriding `cluster.nats_url` (cluster mode on when set).
pub const ENV_CLUSTER: &str = "WASMGATE_CLUSTER";
/// Environment variable overriding `cluster.node_id`.
pub const ENV_NODE_ID: &str = "WASMGATE_NODE_ID";
/// Environment variable overriding `cluster.advertise`.
pub const ENV_ADVERTISE: &str = "WASMGATE_ADVERTISE";
/// Environment variable overriding `cluster.token`.
pub const ENV_CLUSTER_TOKEN: &str = "WASMGATE_CLUSTER_TOKEN";
/// Environment variable overriding `cluster.node_key` (a path).
pub const ENV_NODE_KEY: &str = "WASMGATE_NODE_KEY";
/// Environment variable replacing `cluster.trusted_nodes`, comma-separated.
pub const ENV_TRUSTED_NODES: &str = "WASMGATE_TRUSTED_NODES";

/// Where [`load`] takes settings from.
pub struct Sources<'a> {
    /// A TOML settings file, if one was named (`--config`).
    pub file: Option<&'a Path>,
    /// The environment; the caller passes it so tests need not touch the process's own.
    pub env: &'a BTreeMap<String, String>,
    /// Command-line flags, the top layer.
    pub overrides: Overrides,
}

/// Settings given as command-line flags; `None` and empty lists leave lower layers alone.
#[derive(Clone, Default, PartialEq)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--trust`: added to the issuers from the file or environment.
    pub trust: Vec<String>,
    /// `--policy`: added to the policies from the file.
    pub policies: Vec<PathBuf>,
    /// `--log-format`.
    pub log_format: Option<LogFormat>,
    /// The admin token; an empty one leaves lower layers alone.
    pub admin_token: Option<String>,
    /// `--metrics-listen`.
    pub metrics_listen: Option<SocketAddr>,
    /// `--insecure-open-admin`: `true` switches admin authentication off; `false` leaves lower
    /// layers alone.
    pub insecure_open_admin: bool,
    /// `--cluster`: the NATS URL of the cluster to join.
    pub cluster: Option<String>,
    /// `--node-id`.
    pub node_id: Option<String>,
    /// `--advertise`.
    pub advertise: Option<String>,
}

/// Shows every flag except the admin token's value.
impl std::fmt::Debug for Overrides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overrides")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("trust", &self.trust)
            .field("policies", &self.policies)
            .field("log_format", &self.log_format)
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "<redacted>"),
            )
            .field("metrics_listen", &self.metrics_listen)
            .field("insecure_open_admin", &self.insecure_open_admin)
            .field("cluster", &self.cluster)
            .field("node_id", &self.node_id)
            .field("advertise", &self.advertise)
            .finish()
    }
}

/// Builds the settings from defaults, then the file, then the environment, then the flags, and
/// [validates](Settings::validate) the result.
///
/// Each layer replaces what the one below set, except `--trust` and `--policy`, which add to the
/// lists below them. A variable set to the empty string counts as unset, so an empty
/// `WASMGATE_ADMIN_TOKEN` cannot switch off a token from the file. Other `WASMGATE_*` variables
/// are ignored.
pub fn load(sources: Sources<'_>) -> Result<Settings> {
    let mut settings = match sources.file {
        Some(path) => read_file(path)?,
        None => Settings::default(),
    };
    apply_env(&mut settings, sources.env)?;
    apply_overrides(&mut settings, sources.overrides);
    if settings.admin_token.as_deref() == Some("") {
        settings.admin_token = None;
    }
    if settings.metrics_token.as_deref() == Some("") {
        settings.metrics_token = None;
    }
    dedup(&mut settings.trusted_issuers);
    dedup(&mut settings.policies);
    settings.validate()?;
    Ok(settings)
}

fn read_file(path: &Path) -> Result<Settings> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| Error::ParseFile {
        path: path.to_owned(),
        reason: describe_toml(&text, &e),
    })
}

fn apply_env(settings: &mut Settings, env: &BTreeMap<String, String>) -> Result<()> {
    let var = |name: &str| env.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(value) = var(ENV_LISTEN) {
        settings.listen = value.trim().parse().map_err(|_| Error::InvalidEnv {
            var: ENV_LISTEN.to_owned(),
            reason: format!(
                "`{}` is not an address: write IP:PORT, e.g. `127.0.0.1:8080`",
                value.escape_debug()
            ),
        })?;
    }
    if let Some(value) = var(ENV_DATA_DIR) {
        settings.data_dir = PathBuf::from(value);
    }
    if let Some(value) = var(ENV_TRUSTED_ISSUERS) {
        settings.trusted_issuers = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(value) = var(ENV_ADMIN_TOKEN) {
        settings.admin_token = Some(value.to_owned());
    }
    if let Some(value) = var(ENV_METRICS_TOKEN) {
        settings.metrics_token = Some(value.to_owned());
    }
    if let Some(value) = var(ENV_METRICS_LISTEN) {
        settings.metrics_listen = Some(value.trim().parse().map_err(|_| Error::InvalidEnv {
            var: ENV_METRICS_LISTEN.to_owned(),
            reason: format!(
                "`{}` is not an address: write IP:PORT, e.g. `127.0.0.1:9090`",
                value.escape_debug()
            ),
        })?);
    }
    if let Some(value) = var(ENV_INSECURE_OPEN_ADMIN) {
        settings.insecure_open_admin = match value.trim() {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => {
                return Err(Error::InvalidEnv {
                    var: ENV_INSECURE_OPEN_ADMIN.to_owned(),
                    reason: format!("`{}` is not `true` or `false`", value.escape_debug()),
                });
            }
        };
    }
    if let Some(value) = var(ENV_CLUSTER) {
        settings.cluster.nats_url = Some(value.trim().to_owned());
    }
    if let Some(value) = var(ENV_NODE_ID) {
        settings.cluster.node_id = Some(value.trim().to_owned());
    }
    if let Some(value) = var(ENV_ADVERTISE) {
        settings.cluster.advertise = Some(value.trim().to_owned());
    }
    if let Some(value) = var(ENV_CLUSTER_TOKEN) {
        settings.cluster.token = Some(value.to_owned());
    }
    if let Some(value) = var(ENV_NODE_KEY) {
        settings.cluster.node_key = Some(PathBuf::from(value.trim()));
    }
    if let Some(value) = var(ENV_TRUSTED_NODES) {
        settings.cluster.trusted_nodes = value
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(value) = var(ENV_LOG_FORMAT) {
        settings.log_format = value.parse().map_err(|_| Error::InvalidEnv {
            var: ENV_LOG_FORMAT.to_owned(),
            reason: format!(
                "`{}` is not a log format: use `human` or `json`",
                value.escape_debug()
            ),
        })?;
    }
    Ok(())
}

fn apply_overrides(settings: &mut Settings, overrides: Overrides) {
    let Overrides {
        listen,
        data_dir,
        trust,
        policies,
        log_format,
        admin_token,
        metrics_listen,
        insecure_open_admin,
        cluster,
        node_id,
        advertise,
    } = overrides;
    if cluster.is_some() {
        settings.cluster.nats_url = cluster;
    }
    if node_id.is_some() {
        settings.cluster.node_id = node_id;
    }
    if advertise.is_some() {
        settings.cluster.advertise = advertise;
    }
    if let Some(listen) = listen {
        settings.listen = listen;
    }
    if let Some(data_dir) = data_dir {
        settings.data_dir = data_dir;
    }
    settings.trusted_issuers.extend(trust);
    settings.policies.extend(policies);
    if let Some(log_format) = log_format {
        settings.log_format = log_format;
    }
    if let Some(token) = admin_token.filter(|t| !t.is_empty()) {
        settings.admin_token = Some(token);
    }
    if let Some(addr) = metrics_listen {
        settings.metrics_listen = Some(addr);
    }
    if insecure_open_admin {
        settings.insecure_open_admin = true;
    }
}

/// Drops repeats, keeping the first of each, so a key given in two layers is listed once.
fn dedup<T: PartialEq>(items: &mut Vec<T>) {
    let mut kept: Vec<T> = Vec::with_capacity(items.len());
    for item in items.drain(..) {
        if !kept.contains(&item) {
            kept.push(item);
        }
    }
    *items = kept;
}

#[cfg(test)]
mod tests;
