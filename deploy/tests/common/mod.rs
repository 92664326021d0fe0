//! What both test files read: repository files, YAML streams and the gateway settings in them.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A path in the repository (this crate lives in `deploy/`).
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
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

/// A gateway settings file (TOML), as text from a file or a ConfigMap.
pub fn settings(origin: &str, text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("{origin} is not valid TOML: {e}"))
}

/// The longest a node takes from SIGTERM to its exit, waits for the process aside: it keeps
/// serving for `[cluster] drain_delay`, then gives in-flight calls `shutdown_grace`. Both must
/// be written out, so the grace periods around them can be checked against the real numbers.
pub fn drain_and_grace(origin: &str, settings: &toml::Table) -> Duration {
    let grace = duration_setting(origin, "shutdown_grace", settings.get("shutdown_grace"));
    let drain = duration_setting(
        origin,
        "cluster.drain_delay",
        settings
            .get("cluster")
            .and_then(|cluster| cluster.get("drain_delay")),
    );
    drain + grace
}

/// Checks that `settings` turn cluster mode on with a key-value store every node shares, and
/// returns the hosts of the NATS and Redis URLs.
pub fn cluster_hosts(origin: &str, settings: &toml::Table) -> (String, String) {
    let cluster = settings
        .get("cluster")
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("{origin} has no [cluster] table"));
    let nats = string_setting(origin, "cluster.nats_url", cluster.get("nats_url"));
    let kv = settings
        .get("kv")
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("{origin} has no [kv] table: cluster mode needs a shared one"));
    assert_eq!(
        kv.get("backend").and_then(toml::Value::as_str),
        Some("redis"),
        "{origin}: [kv] backend must be \"redis\": every node must see the same guest data"
    );
    let redis = string_setting(origin, "kv.url", kv.get("url"));
    (
        url_host(origin, &nats, "nats://"),
        url_host(origin, &redis, "redis://"),
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

/// A duration as the gateway, compose and HAProxy configs here write them (`2s`, `45s`, `1m`).
pub fn duration(origin: &str, text: &str) -> Duration {
    humantime::parse_duration(text)
        .unwrap_or_else(|e| panic!("{origin}: {text:?} is not a duration: {e}"))
}

fn duration_setting(origin: &str, key: &str, value: Option<&toml::Value>) -> Duration {
    duration(origin, &string_setting(origin, key, value))
}

fn string_setting(origin: &str, key: &str, value: Option<&toml::Value>) -> String {
    value
        .and_then(toml::Value::as_str)
        .unwrap_or_else(|| panic!("{origin}: set `{key}` (a string)"))
        .to_owned()
}
