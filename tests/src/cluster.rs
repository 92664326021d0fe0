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
}

impl Default for ClusterNodeConfig {
    fn default() -> Self {
        ClusterNodeConfig {
            heartbeat: "250ms",
            drain_delay: "1s",
            extra_toml: String::new(),
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
}

impl ClusterHarness {
    /// Starts NATS, Redis and `n` nodes with default test settings.
    pub async fn start(n: usize) -> anyhow::Result<Self> {
        Self::start_with(n, ClusterNodeConfig::default()).await
    }

    /// Starts NATS, Redis and `n` nodes with `config`.
    pub async fn start_with(n: usize, config: ClusterNodeConfig) -> anyhow::Result<Self> {
        let nats = NatsServer::start_jetstream().await?;
        let redis = RedisServer::start().await?;
        let token = format!("cluster-admin-{}", uuid::Uuid::new_v4().simple());
        let toml = format!(
            "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n[cluster]\nheartbeat = \"{}\"\ndrain_delay = \"{}\"\n{}",
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
                .env("WASMGATE_ADVERTISE", &format!("http://{addr}"));
            builders.push(builder);
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
        Ok(ClusterHarness { nats, redis, nodes })
    }
}
