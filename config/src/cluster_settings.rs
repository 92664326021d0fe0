//! Cluster mode (`[cluster]`, `--cluster`, `WASMGATE_CLUSTER`): N identical gateways sharing their
//! registry, signed originals and membership through NATS JetStream.
//!
//! Absent `nats_url`, the node runs alone and nothing here applies. With it, key-value must be a
//! shared backend (Redis), the message bus defaults to the same NATS server, and nodes
//! authenticate the calls they forward to each other with `token` (or, when unset, a token
//! derived from the shared admin token).

use crate::duration::HumanDuration;
use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;
use std::time::Duration;

/// `balance_factor` when unset: 1 + ε with ε = 0.25, the bound Mirrokni, Thorup and
/// Zadimoghaddam's consistent hashing with bounded loads (SODA 2018) is usually run at; Dapr's
/// placement uses the same ε and HAProxy/Envoy document 1.2–2.0 as typical `hash-balance-factor`.
pub const DEFAULT_BALANCE_FACTOR: f64 = 1.25;

/// `heartbeat` when unset: each node rewrites its membership entry once a second, so a peer sees
/// a changed load within a second and a vanished node within [`MISSED_HEARTBEATS`] seconds.
pub const DEFAULT_HEARTBEAT: HumanDuration = HumanDuration::from_duration(Duration::from_secs(1));

/// Heartbeats a node may miss before peers treat it as gone (its entry also expires from the
/// bucket after this many heartbeats). Three, as in the research design (§3.7): one lost write
/// never removes a live node.
pub const MISSED_HEARTBEATS: u32 = 3;

/// `node_capacity` when unset: calls in flight one node is sized for. The active set of nodes
/// functions are homed on is `ceil(total in flight / node_capacity)` nodes, so at low load work
/// gathers on the lowest node ids and the rest can be scaled in. 64 is twice the default
/// `[defaults] max_concurrency` (32) of one hot function, per node of 2 cores.
pub const DEFAULT_NODE_CAPACITY: u32 = 64;

/// `drain_delay` when unset: after SIGTERM a node first leaves the home set and keeps serving
/// for this long, so load balancers and peers stop sending before it stops accepting (Kubernetes
/// endpoint updates take about a second).
pub const DEFAULT_DRAIN_DELAY: HumanDuration = HumanDuration::from_duration(Duration::from_secs(2));

/// `ack_wait` when unset: a node that took an async call and went silent (crashed) for 30 s loses
/// it to another node. 30 s is JetStream's own default `AckWait`; a running call reports progress
/// every third of it, so only a silent node's calls move.
pub const DEFAULT_ACK_WAIT: HumanDuration = HumanDuration::from_duration(Duration::from_secs(30));

/// Cluster mode (`[cluster]`).
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterSettings {
    /// The NATS server (with JetStream) the cluster shares, e.g. `nats://127.0.0.1:4222`;
    /// `None` runs this node alone.
    pub nats_url: Option<String>,
    /// This node's id, unique in the cluster: letters, digits, `-` and `_`, at most 64 (a
    /// StatefulSet pod name such as `wasmgate-0` fits). Node ids order the active set: the
    /// lowest (by trailing number, then text) take work first.
    pub node_id: Option<String>,
    /// The URL peers reach this node's listener on, e.g. `http://10.0.0.5:8080`.
    pub advertise: Option<String>,
    /// Shared secret nodes send with forwarded calls (at least 32 characters); `None` derives
    /// one from the admin token, which every node then must share.
    pub token: Option<String>,
    /// 1 + ε of bounded-load hashing: no node is home for more than this times the mean load.
    pub balance_factor: f64,
    /// How often a node rewrites its membership entry.
    pub heartbeat: HumanDuration,
    /// Calls in flight one node is sized for (64 unless set; see the settings example).
    pub node_capacity: u32,
    /// How long a node keeps serving after SIGTERM before it stops accepting.
    pub drain_delay: HumanDuration,
    /// JetStream replicas of the cluster's buckets (1 on one NATS server, 3 in production).
    pub replicas: u8,
    /// How long an async call taken by a node that stopped answering waits before another node
    /// runs it (JetStream `AckWait` of the call queue's consumer).
    pub ack_wait: HumanDuration,
    /// This node's Ed25519 key (a PKCS#8 PEM file, as `wasmgate keys generate` writes): when set,
    /// the node signs every artifact it compiles and shares it in the object store
    /// `wg_artifacts`, so nodes that trust its public key load it instead of compiling.
    pub node_key: Option<std::path::PathBuf>,
    /// The NATS user the cluster's server asks for (its `authorization { user, password }`);
    /// set together with `nats_password_env`. Also used by the message bus when it is the
    /// cluster's NATS.
    pub nats_user: Option<String>,
    /// Name of the environment variable holding `nats_user`'s password (never the password
    /// itself, so settings files hold no secret), e.g. `WASMGATE_NATS_PASSWORD`.
    pub nats_password_env: Option<String>,
    /// Public keys of the nodes whose signed artifacts this node loads instead of compiling the
    /// original itself (43 base64url characters each, as `wasmgate keys generate` prints). Only
    /// artifacts compiled by an engine with this node's fingerprint are considered; the original
    /// is re-verified either way. Empty: this node compiles everything itself.
    pub trusted_nodes: Vec<String>,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings {
            nats_url: None,
            node_id: None,
            advertise: None,
            token: None,
            balance_factor: DEFAULT_BALANCE_FACTOR,
            heartbeat: DEFAULT_HEARTBEAT,
            node_capacity: DEFAULT_NODE_CAPACITY,
            drain_delay: DEFAULT_DRAIN_DELAY,
            replicas: 1,
            ack_wait: DEFAULT_ACK_WAIT,
            node_key: None,
            nats_user: None,
            nats_password_env: None,
            trusted_nodes: Vec::new(),
        }
    }
}

/// Shows every key except the token's value.
impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("nats_url", &self.nats_url)
            .field("node_id", &self.node_id)
            .field("advertise", &self.advertise)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("balance_factor", &self.balance_factor)
            .field("heartbeat", &self.heartbeat)
            .field("node_capacity", &self.node_capacity)
            .field("drain_delay", &self.drain_delay)
            .field("replicas", &self.replicas)
            .field("ack_wait", &self.ack_wait)
            .field("node_key", &self.node_key)
            .field("nats_user", &self.nats_user)
            .field("nats_password_env", &self.nats_password_env)
            .field("trusted_nodes", &self.trusted_nodes)
            .finish()
    }
}

impl ClusterSettings {
    /// Whether this node runs in a cluster.
    pub fn enabled(&self) -> bool {
        self.nats_url.is_some()
    }

    /// Checks the section on its own; [`Settings::validate`](crate::Settings::validate) checks
    /// what it needs from the rest (a shared key-value store, a shared token).
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(path) = &self.node_key {
            ensure(!path.as_os_str().is_empty(), || {
                "cluster.node_key is empty: name the PEM file `wasmgate keys generate --out FILE` wrote, or leave it out".to_owned()
            })?;
        }
        for key in &self.trusted_nodes {
            ensure(crate::validate::well_formed_issuer(key), || {
                format!(
                    "cluster.trusted_nodes entry `{}` is not a public key: write the node's Ed25519 public key as 43 base64url characters, as `wasmgate keys generate` prints it",
                    key.escape_debug()
                )
            })?;
        }
        ensure(
            self.nats_user.is_some() == self.nats_password_env.is_some(),
            || {
                "cluster.nats_user and cluster.nats_password_env go together: set both (the NATS user, and the environment variable holding its password) or neither".to_owned()
            },
        )?;
        if let Some(var) = &self.nats_password_env {
            ensure(
                !var.is_empty() && var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                || {
                    format!(
                        "cluster.nats_password_env `{}` is not an environment variable name: use letters, digits and `_`, e.g. `WASMGATE_NATS_PASSWORD`",
                        var.escape_debug()
                    )
                },
            )?;
        }
        let Some(url) = &self.nats_url else {
            return Ok(());
        };
        ensure(
            url.starts_with("nats://") || url.starts_with("tls://"),
            || {
                format!(
                    "cluster.nats_url `{}` is not a NATS URL: write e.g. `nats://127.0.0.1:4222`",
                    url.escape_debug()
                )
            },
        )?;
        let id = self.node_id.as_deref().unwrap_or("");
        ensure(valid_node_id(id), || {
            format!(
                "cluster.node_id `{}` is invalid: give each node a unique id of 1 to 64 letters, digits, `-` or `_` (--node-id, WASMGATE_NODE_ID), e.g. `wasmgate-0`",
                id.escape_debug()
            )
        })?;
        let advertise = self.advertise.as_deref().unwrap_or("");
        ensure(valid_advertise(advertise), || {
            format!(
                "cluster.advertise `{}` is invalid: give the http:// URL peers reach this node's listener on, without a path (--advertise, WASMGATE_ADVERTISE), e.g. `http://10.0.0.5:8080`",
                advertise.escape_debug()
            )
        })?;
        if let Some(token) = &self.token {
            ensure(token.len() >= crate::defaults::MIN_TOKEN_LEN, || {
                format!(
                    "cluster.token is shorter than {} characters: use a random secret, e.g. `openssl rand -hex 32`",
                    crate::defaults::MIN_TOKEN_LEN
                )
            })?;
        }
        ensure(
            self.balance_factor.is_finite() && (1.0..=10.0).contains(&self.balance_factor),
            || {
                format!(
                    "cluster.balance_factor {} is out of range: use 1 + ε between 1.0 and 10.0, e.g. {DEFAULT_BALANCE_FACTOR}",
                    self.balance_factor
                )
            },
        )?;
        ensure(
            self.heartbeat.get() >= Duration::from_millis(100)
                && self.heartbeat.get() <= Duration::from_secs(60),
            || {
                format!(
                    "cluster.heartbeat `{}` is out of range: use 100ms to 60s, e.g. `{DEFAULT_HEARTBEAT}`",
                    self.heartbeat
                )
            },
        )?;
        ensure(self.node_capacity > 0, || {
            format!(
                "cluster.node_capacity is zero: give the calls in flight one node is sized for, e.g. {DEFAULT_NODE_CAPACITY}"
            )
        })?;
        ensure(
            self.ack_wait.get() >= Duration::from_secs(1)
                && self.ack_wait.get() <= Duration::from_secs(3600),
            || {
                format!(
                    "cluster.ack_wait `{}` is out of range: use 1s to 1h, e.g. `{DEFAULT_ACK_WAIT}`",
                    self.ack_wait
                )
            },
        )?;
        ensure((1..=5).contains(&self.replicas), || {
            format!(
                "cluster.replicas {} is out of range: JetStream keeps 1 to 5 replicas (1 on a single NATS server, 3 in production)",
                self.replicas
            )
        })
    }
}

/// Whether `id` may name a node: 1 to 64 of `[A-Za-z0-9_-]` (safe in NATS keys and log lines).
pub fn valid_node_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `url` is an `http://` or `https://` origin without path, query or spaces.
fn valid_advertise(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    else {
        return false;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    !rest.is_empty()
        && rest.len() <= 253 + 6
        && !rest.contains(['/', '?', '#', '@', ' '])
        && !rest.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> ClusterSettings {
        ClusterSettings {
            nats_url: Some("nats://127.0.0.1:4222".into()),
            node_id: Some("wasmgate-0".into()),
            advertise: Some("http://127.0.0.1:8080".into()),
            ..ClusterSettings::default()
        }
    }

    #[test]
    fn off_by_default_and_a_complete_section_passes() {
        assert!(!ClusterSettings::default().enabled());
        ClusterSettings::default().validate().unwrap();
        on().validate().unwrap();
    }

    #[test]
    fn each_bad_key_is_named() {
        type Breaks = fn(&mut ClusterSettings);
        let cases: [(Breaks, &str); 12] = [
            (|c| c.nats_url = Some("http://x".into()), "cluster.nats_url"),
            (|c| c.node_id = None, "cluster.node_id"),
            (|c| c.node_id = Some("a b".into()), "cluster.node_id"),
            (
                |c| c.advertise = Some("http://h/p".into()),
                "cluster.advertise",
            ),
            (|c| c.token = Some("short".into()), "cluster.token"),
            (|c| c.balance_factor = 0.5, "cluster.balance_factor"),
            (|c| c.node_capacity = 0, "cluster.node_capacity"),
            (|c| c.replicas = 0, "cluster.replicas"),
            (|c| c.node_key = Some("".into()), "cluster.node_key"),
            (
                |c| c.trusted_nodes = vec!["not-a-key".into()],
                "cluster.trusted_nodes",
            ),
            (
                |c| c.nats_user = Some("wasmgate".into()),
                "cluster.nats_password_env",
            ),
            (
                |c| {
                    c.nats_user = Some("wasmgate".into());
                    c.nats_password_env = Some("NOT A NAME".into());
                },
                "cluster.nats_password_env",
            ),
        ];
        for (breaks, key) in cases {
            let mut settings = on();
            breaks(&mut settings);
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains(key), "{key}: {error}");
        }
    }
}
