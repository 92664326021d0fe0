//! Several real gateway processes in cluster mode on loopback, with a real `nats-server`
//! (JetStream on) and `redis-server`: the harness of the cluster tests and benchmarks.

use crate::{Gateway, NatsServer, RedisServer};

/// Settings every node of a [`ClusterHarness`] gets, shortened for tests where that changes
/// nothing but waiting: heartbeats every 250 ms (a vanished node is gone after 750 ms) and a
/// 1 s drain delay.
pub struct ClusterNodeConfig {
    /// `[cluster] heartbeat`.
    pub heartbeat: &'static str,
    /// `[cluster] drain_delay`.
    pub drain_delay: &'static str,
    /// Extra TOML appended to every node's settings file, inside its `[cluster]` table (a line
    /// starting another table ends it).
    pub extra_toml: String,
    /// Node keys for shared artifacts; `None`: no node signs or trusts any.
    pub node_keys: Option<NodeKeys>,
    /// When set, NATS accepts only this user and password, and every node is given them
    /// (`nats_user`, and the password in the variable `nats_password_env` names).
    pub nats_user: Option<(&'static str, &'static str)>,
}

/// The environment variable the harness passes the NATS password in.
pub const NATS_PASSWORD_ENV: &str = "WASMGATE_TEST_NATS_PASSWORD";

/// Which nodes of a [`ClusterHarness`] sign the artifacts they compile and whose keys each
/// trusts. Every node has a key pair ([`ClusterHarness::node_keys`]); only those that sign are
/// given theirs.
#[derive(Clone, Copy)]
pub struct NodeKeys {
    /// Node `i` gets its key (`WASMGATE_NODE_KEY`) when `signs(i)`.
    pub signs: fn(usize) -> bool,
    /// Node `i` trusts node `j`'s key (`WASMGATE_TRUSTED_NODES`) when `trusts(i, j)`.
    pub trusts: fn(usize, usize) -> bool,
}

impl Default for ClusterNodeConfig {
    fn default() -> Self {
        ClusterNodeConfig {
            heartbeat: "250ms",
            drain_delay: "1s",
            extra_toml: String::new(),
            node_keys: None,
            nats_user: None,
        }
    }
}

/// NATS, Redis and `n` gateways `wasmgate-0` … `wasmgate-{n-1}`, each trusting every node's
/// signing key and sharing one admin token.
pub struct ClusterHarness {
    /// The cluster's NATS server.
    pub nats: NatsServer,
    /// The shared key-value store.
    pub redis: RedisServer,
    /// The nodes, by ordinal.
    pub nodes: Vec<Gateway>,
    /// The public halves of the nodes' node keys, by ordinal, when
    /// [`ClusterNodeConfig::node_keys`] is set.
    pub node_keys: Vec<String>,
    /// Holds the node key files.
    _keys_dir: tempfile::TempDir,
}

impl ClusterHarness {
    /// Starts NATS, Redis and `n` nodes with default test settings.
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        Self::start_with(n, ClusterNodeConfig::default()).await
    }

    /// Starts NATS, Redis and `n` nodes with `config`.
    pub async fn start_with(n: usize, config: ClusterNodeConfig) -> anyhow::Result<Self> {
        let nats = match config.nats_user {
            Some((user, password)) => NatsServer::start_jetstream_with_user(user, password).await?,
            None => NatsServer::start_jetstream().await?,
        };
        let nats_auth = match config.nats_user {
            Some((user, _)) => {
                format!("nats_user = \"{user}\"\nnats_password_env = \"{NATS_PASSWORD_ENV}\"\n")
            }
            None => String::new(),
        };
        let redis = RedisServer::start().await?;
        let token = format!("cluster-admin-{}", uuid::Uuid::new_v4().simple());
        let toml = format!(
            "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n[cluster]\nheartbeat = \"{}\"\ndrain_delay = \"{}\"\n{nats_auth}{}",
            redis.url(),
            config.heartbeat,
            config.drain_delay,
            config.extra_toml
        );
        let mut builders = Vec::new();
        for i in 0..n {
            let port = crate::free_port::free_port()?;
            let addr = format!("127.0.0.1:{port}");
            let builder = Gateway::builder()
                .listen(&addr)
                .admin_token(&token)
                .config_toml(&toml)
                .env("WASMGATE_CLUSTER", &nats.url())
                .env("WASMGATE_NODE_ID", &format!("wasmgate-{i}"))
                .env("WASMGATE_ADVERTISE", &format!("http://{addr}"))
                .env(NATS_PASSWORD_ENV, config.nats_user.map_or("", |(_, p)| p));
            builders.push(builder);
        }
        let keys_dir = tempfile::tempdir()?;
        let mut node_keys = Vec::new();
        if let Some(NodeKeys { signs, trusts }) = config.node_keys {
            let keys: Vec<_> = (0..n)
                .map(|_| wasmgate_claims::SigningKey::generate())
                .collect();
            node_keys = keys.iter().map(|k| k.issuer().to_string()).collect();
            for (i, builder) in builders.iter_mut().enumerate() {
                let path = keys_dir.path().join(format!("node-{i}.pem"));
                std::fs::write(&path, keys[i].to_pkcs8_pem()?.as_str())?;
                let trusted: Vec<&str> = (0..n)
                    .filter(|&j| j != i && trusts(i, j))
                    .map(|j| node_keys[j].as_str())
                    .collect();
                let mut b =
                    std::mem::take(builder).env("WASMGATE_TRUSTED_NODES", &trusted.join(","));
                if signs(i) {
                    b = b.env("WASMGATE_NODE_KEY", &path.display().to_string());
                }
                *builder = b;
            }
        }
        let issuers: Vec<String> = builders.iter().map(|b| b.issuer()).collect();
        let mut nodes = Vec::new();
        for (i, mut builder) in builders.into_iter().enumerate() {
            for (j, issuer) in issuers.iter().enumerate() {
                if i != j {
                    builder = builder.arg("--trust").arg(issuer);
                }
            }
            nodes.push(builder.start().await?);
        }
        Ok(ClusterHarness {
            nats,
            redis,
            nodes,
            node_keys,
            _keys_dir: keys_dir,
        })
    }
}
