//! What both test files read: repository files, YAML streams, and gateway settings loaded the
//! way `wasmgate serve` loads them.

#![allow(
    dead_code,
    reason = "each test binary uses a part of what the two share"
)]

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmgate_config::defaults::MIN_TOKEN_LEN;
use wasmgate_config::{KvBackendKind, Overrides, Settings, Sources};

/// A path in the repository (this crate lives in `deploy/`).
///
/// `cargo test` names the crate's folder at run time too; that one is preferred over the folder
/// compiled in, which is stale when a checkout elsewhere built this same binary (a shared
/// target dir keeps it fresh across checkouts).
pub fn repo_path(relative: &str) -> PathBuf {
    let dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    dir.parent()
        .expect("deploy/ sits in the repository root")
        .join(relative)
}

/// The text of `path`, which the test needs.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Every document of the YAML stream in `path`, as the JSON an API server or compose would see.
///
/// Duplicate keys are an error, merge keys (`<<: *anchor`) are expanded, and `yes`/`no` read
/// as booleans as YAML 1.1 readers (kubectl) read them.
pub fn yaml_documents(path: &Path) -> Vec<Value> {
    serde_saphyr::from_multiple(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// What stands in for a secret the files only refer to: as long as the gateway requires.
pub fn stand_in_token() -> String {
    "t".repeat(MIN_TOKEN_LEN)
}

/// What stands in for an issuer's public key: 43 base64url characters, the shape of one.
pub const STAND_IN_ISSUER: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Whether `value` could be one of the gateway's tokens (the placeholders must not).
pub fn usable_as_token(value: &str) -> bool {
    value.len() >= MIN_TOKEN_LEN
}

/// Loads the settings file `text` with the `WASMGATE_*` environment `env`, exactly as
/// `wasmgate serve --config FILE` does before it binds a port: an unknown key, a bad value or
/// a combination the gateway refuses (cluster mode on the embedded key-value store, say) fails
/// here as it would fail the node at start.
pub fn load_settings(origin: &str, text: &str, env: &BTreeMap<String, String>) -> Settings {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("settings.toml");
    std::fs::write(&path, text).expect("writing the settings to a temporary file");
    let sources = Sources {
        file: Some(&path),
        env,
        overrides: Overrides::default(),
    };
    wasmgate_config::load(sources)
        .unwrap_or_else(|e| panic!("{origin}: the gateway would refuse to start: {e}"))
}

/// The longest a node takes from SIGTERM to exiting, the process's own last second aside: it
/// keeps serving for `[cluster] drain_delay`, then gives in-flight calls `shutdown_grace`.
pub fn drain_and_grace(settings: &Settings) -> Duration {
    settings.cluster.drain_delay.get() + settings.shutdown_grace.get()
}

/// Checks that `settings` run a cluster node on a key-value store every node shares, and
/// returns the hosts of the NATS and Redis URLs.
pub fn cluster_hosts(origin: &str, settings: &Settings) -> (String, String) {
    let nats =
        settings.cluster.nats_url.as_deref().unwrap_or_else(|| {
            panic!("{origin}: [cluster] nats_url is not set: cluster mode is off")
        });
    assert_eq!(
        settings.kv.backend,
        KvBackendKind::Redis,
        "{origin}: [kv] backend must be \"redis\": every node must see the same guest data"
    );
    let redis = settings
        .kv
        .url
        .as_deref()
        .unwrap_or_else(|| panic!("{origin}: [kv] url is not set"));
    (
        url_host(origin, nats, "nats://"),
        url_host(origin, redis, "redis://"),
    )
}

/// The host of `url`, which must start with `scheme`.
pub fn url_host(origin: &str, url: &str, scheme: &str) -> String {
    let rest = url
        .strip_prefix(scheme)
        .unwrap_or_else(|| panic!("{origin}: {url} should start with {scheme}"));
    let authority = rest.split('/').next().unwrap_or(rest);
    let host_port = authority.rsplit('@').next().unwrap_or(authority);
    host_port.split(':').next().unwrap_or(host_port).to_owned()
}

/// A duration as compose and HAProxy write them here (`2s`, `45s`, `1m`).
pub fn duration(origin: &str, text: &str) -> Duration {
    humantime::parse_duration(text)
        .unwrap_or_else(|e| panic!("{origin}: {text:?} is not a duration: {e}"))
}
