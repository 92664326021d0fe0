//! The connection to the cluster's NATS server and its JetStream buckets.

use crate::error::{Error, Result, unavailable};
use async_nats::jetstream::{self, kv, object_store};
use std::time::Duration;
use tokio::sync::OnceCell;

/// KV bucket of function records.
pub const REGISTRY_BUCKET: &str = "wg_registry";
/// KV bucket of node entries.
pub const NODES_BUCKET: &str = "wg_nodes";
/// Object store of signed originals.
pub const ORIGINALS_BUCKET: &str = "wg_originals";

/// Versions of each record the registry bucket keeps (the live one and four before it), for an
/// operator reading `nats kv history wg_registry fn.NAME`.
const REGISTRY_HISTORY: i64 = 5;

/// How long a JetStream request may take before it counts as unavailable: long enough for a
/// replicated write under load, short enough that a deploy against a dead server answers.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// How the node joins the cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// `nats://HOST:PORT`.
    pub url: String,
    /// JetStream replicas of every bucket (1–5).
    pub replicas: usize,
    /// How often nodes rewrite their membership entry; entries expire after
    /// `missed_heartbeats` of them.
    pub heartbeat: Duration,
    /// Heartbeats a node may miss before it counts as gone.
    pub missed_heartbeats: u32,
    /// How async calls are queued and kept.
    pub calls: crate::calls::CallOptions,
    /// User and password the NATS server's `authorization` block asks for; `None` connects
    /// without (a server that requires them then refuses every operation as unavailable).
    pub credentials: Option<NatsCredentials>,
}

/// A NATS user and password (NATS's `user`/`password` authorization). `Debug` never shows the
/// password.
#[derive(Clone, PartialEq, Eq)]
pub struct NatsCredentials {
    /// The NATS user.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for NatsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsCredentials")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl NatsCredentials {
    /// These credentials added to `options`.
    pub fn apply(&self, options: async_nats::ConnectOptions) -> async_nats::ConnectOptions {
        options.user_and_password(self.user.clone(), self.password.clone())
    }
}

/// One node's handle on the cluster's shared state. Buckets are created (or opened) on first use
/// and kept; until NATS answers, every operation fails with [`Error::Unavailable`](crate::Error)
/// and the client keeps reconnecting in the background.
pub struct Cluster {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    options: ClusterOptions,
    registry: OnceCell<kv::Store>,
    nodes: OnceCell<kv::Store>,
    originals: OnceCell<object_store::ObjectStore>,
    pub(crate) artifacts: OnceCell<object_store::ObjectStore>,
    pub(crate) calls: OnceCell<jetstream::stream::Stream>,
    pub(crate) consumer: OnceCell<jetstream::consumer::PullConsumer>,
    pub(crate) results: OnceCell<kv::Store>,
    pub(crate) slots: OnceCell<kv::Store>,
}

impl Cluster {
    /// Connects to `options.url`; returns at once even when the server is down (the client
    /// retries, operations fail until it is back).
    pub async fn connect(options: ClusterOptions) -> Result<Self> {
        let mut connect = async_nats::ConnectOptions::new()
            .name("wasmgate-cluster")
            .retry_on_initial_connect()
            .request_timeout(Some(REQUEST_TIMEOUT));
        if let Some(credentials) = &options.credentials {
            connect = credentials.apply(connect);
        }
        let client = connect
            .connect(options.url.as_str())
            .await
            .map_err(|e| unavailable("connecting", e))?;
        let mut jetstream = jetstream::new(client.clone());
        jetstream.set_timeout(REQUEST_TIMEOUT);
        Ok(Cluster {
            client,
            jetstream,
            options,
            registry: OnceCell::new(),
            nodes: OnceCell::new(),
            originals: OnceCell::new(),
            artifacts: OnceCell::new(),
            calls: OnceCell::new(),
            consumer: OnceCell::new(),
            results: OnceCell::new(),
            slots: OnceCell::new(),
        })
    }

    /// The options the node joined with.
    pub fn options(&self) -> &ClusterOptions {
        &self.options
    }

    /// How async calls are queued and kept.
    pub(crate) fn call_options(&self) -> crate::calls::CallOptions {
        self.options.calls
    }

    /// The JetStream context.
    pub(crate) fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    /// The server's `max_payload` (largest message), 0 before the first connection.
    pub fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// Whether the client is connected right now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Flushes and closes the connection (after a drain).
    pub async fn close(&self) {
        if let Err(e) = self.client.drain().await {
            tracing::debug!(error = %e, "closing the cluster connection");
        }
    }

    pub(crate) async fn registry_bucket(&self) -> Result<&kv::Store> {
        self.registry
            .get_or_try_init(|| {
                self.key_value(kv::Config {
                    bucket: REGISTRY_BUCKET.to_owned(),
                    description: "wasmgate function records (fn.<name>)".to_owned(),
                    history: REGISTRY_HISTORY,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: self.options.replicas,
                    ..Default::default()
                })
            })
            .await
    }

    pub(crate) async fn nodes_bucket(&self) -> Result<&kv::Store> {
        self.nodes
            .get_or_try_init(|| {
                self.key_value(kv::Config {
                    bucket: NODES_BUCKET.to_owned(),
                    description: "wasmgate nodes (node.<id>), expiring".to_owned(),
                    history: 1,
                    max_age: self.options.heartbeat * self.options.missed_heartbeats.max(1),
                    // File, not memory: a restarted NATS server keeps the bucket (entries
                    // expire anyway), so nodes that opened it once keep heartbeating into it.
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: self.options.replicas,
                    ..Default::default()
                })
            })
            .await
    }

    pub(crate) async fn originals_bucket(&self) -> Result<&object_store::ObjectStore> {
        self.originals
            .get_or_try_init(|| async {
                match self.jetstream.get_object_store(ORIGINALS_BUCKET).await {
                    Ok(store) => Ok(store),
                    Err(_) => self
                        .jetstream
                        .create_object_store(object_store::Config {
                            bucket: ORIGINALS_BUCKET.to_owned(),
                            description: Some(
                                "wasmgate signed originals (sha256:<hex>)".to_owned(),
                            ),
                            storage: jetstream::stream::StorageType::File,
                            num_replicas: self.options.replicas,
                            ..Default::default()
                        })
                        .await
                        .map_err(|e| unavailable("creating the originals store", e)),
                }
            })
            .await
    }

    /// Opens `config.bucket`, creating it as configured when it does not exist.
    ///
    /// The bucket's stream is created here with the settings `create_key_value` would use (the
    /// KV layout of NATS's ADR-8: stream `KV_<bucket>`, subjects `$KV.<bucket>.>`, one message
    /// per key per history slot, rollups allowed, deletes denied, direct gets, discard new):
    /// async-nats 0.51's `create_key_value` first reads the account info, whose shape it parses
    /// only from NATS 2.10 on (`reserved_memory`), so it fails on the 2.9 servers Debian ships.
    pub(crate) async fn key_value(&self, config: kv::Config) -> Result<kv::Store> {
        let bucket = config.bucket.clone();
        if let Ok(store) = self.jetstream.get_key_value(bucket.as_str()).await {
            return Ok(store);
        }
        let created = self
            .jetstream
            .get_or_create_stream(jetstream::stream::Config {
                name: format!("KV_{bucket}"),
                description: Some(config.description),
                subjects: vec![format!("$KV.{bucket}.>")],
                max_messages_per_subject: config.history.max(1),
                max_age: config.max_age,
                storage: config.storage,
                num_replicas: config.num_replicas.max(1),
                allow_rollup: true,
                deny_delete: true,
                allow_direct: true,
                discard: jetstream::stream::DiscardPolicy::New,
                ..Default::default()
            })
            .await;
        if let Err(e) = created {
            return Err(unavailable(&format!("creating bucket {bucket}"), e));
        }
        self.jetstream
            .get_key_value(bucket.as_str())
            .await
            .map_err(|e| unavailable(&format!("opening bucket {bucket}"), e))
    }
}

/// Reads the object `name` of `store` with its metadata, or `None` when there is none; refuses
/// one larger than `limit` bytes, by the size its info states before reading and by the bytes
/// actually read. `doing` names the operation in errors.
pub(crate) async fn read_object(
    store: &object_store::ObjectStore,
    name: &str,
    limit: u64,
    doing: &str,
) -> Result<Option<(Vec<u8>, std::collections::HashMap<String, String>)>> {
    use async_nats::jetstream::object_store::GetErrorKind;
    use tokio::io::AsyncReadExt as _;
    let mut object = match store.get(name).await {
        Ok(object) => object,
        Err(e) if e.kind() == GetErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(unavailable(doing, e)),
    };
    let too_large = |size: u64| Error::TooLarge {
        key: name.to_owned(),
        size,
        limit,
    };
    let size = object.info().size as u64;
    if size > limit {
        return Err(too_large(size));
    }
    let metadata = object.info().metadata.clone();
    let mut bytes = Vec::with_capacity(size as usize);
    (&mut object)
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|e| unavailable(doing, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(Some((bytes, metadata)))
}
