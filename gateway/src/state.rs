//! The gateway's shared state and what it does at start: open the data dir, restore functions
//! (see [`restore`](crate::restore)).

use crate::admission::{Admission, ExecuteCache};
use crate::async_calls::{CallStore, Workers, expire_old};
use crate::catalog::{Catalog, Deployed};
use crate::error::ApiError;
use crate::metrics::{CountedBus, CountedKv, FunctionMetrics, Metrics};
use crate::registry::{Record, Registry};
use crate::secrets::{process_env, resolve_config};
use crate::triggers::Subscriptions;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmgate_capabilities::egress::{EgressCtx, RefusedHook};
use wasmgate_capabilities::messaging::{
    BacklogLimits, Bus, EmbeddedBus, MessagingCtx, NatsBus, cloudevent,
};
use wasmgate_capabilities::private_files;
use wasmgate_capabilities::{KvBackend, KvCtx, RedbBackend, RedisBackend};
use wasmgate_config::{BusBackendKind, EventFormat, KvBackendKind, Settings};
use wasmgate_pool::ColdStartHook;
use wasmgate_pool::{Digest, FunctionSpec, OriginalStore, Pool};

/// Sub-folder of the data dir holding precompiled artifacts.
const ARTIFACT_DIR: &str = "artifacts";

/// Sub-folder of the data dir holding the signed originals the artifacts were compiled from.
const ORIGINAL_DIR: &str = "originals";

/// File in the data dir holding async calls.
const CALLS_FILE: &str = "calls.redb";

/// File in the data dir holding the registry database.
const REGISTRY_FILE: &str = "registry.redb";

/// Everything a request handler needs, shared by all connections.
pub struct Gateway {
    /// Validated settings in force.
    pub settings: Settings,
    /// Compiles and runs functions.
    pub pool: Pool,
    /// The live functions and routes.
    pub catalog: Catalog,
    /// Durable records of deployed functions.
    pub registry: Registry,
    /// The signed components as deployed, which restore re-verifies and rebuilds artifacts from.
    pub originals: OriginalStore,
    /// Held (shared) from compiling an artifact until its record is published, and (exclusive) while
    /// deleting unreferenced artifacts, so a deploy never publishes an artifact that was just deleted.
    pub artifact_gc: tokio::sync::RwLock<()>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// The key-value store guests with the `keyvalue` grant use.
    pub kv: Arc<dyn KvBackend>,
    /// The message bus: triggers and `/publish`.
    pub bus: Arc<dyn Bus>,
    /// The same bus as guests with the `messaging` grant see it: counting what they publish.
    pub guest_bus: Arc<dyn Bus>,
    /// Async calls, stored durably.
    pub calls: CallStore,
    /// One queue and worker per function for async calls.
    pub workers: Workers,
    /// Trusted issuers and policies deploys and executions are checked against.
    pub admission: Admission,
    /// The tokens admin, metrics and protected functions accept.
    pub access: crate::auth::Access,
    /// How client connections ended: counted, and logged at a bounded rate.
    pub connection_reports: crate::server::outcome::Reports,
    /// This node's part in a cluster; `None` when it runs alone.
    pub cluster: Option<Arc<crate::cluster::ClusterNode>>,
    /// The last canary of each function.
    pub canaries: crate::canary::Canaries,
    /// The last fired slot of every schedule (the data dir alone, the cluster's bucket in one).
    pub slots: crate::schedules::SlotStore,
    /// Pulls the components deploys name by `oci://` reference.
    pub oci: crate::oci::pull::Puller,
    ready: AtomicBool,
    /// Turns `true` when the gateway starts draining: long-lived answers (followed logs) end.
    draining: tokio::sync::watch::Sender<bool>,
}

impl Gateway {
    /// Limits for a body the gateway reads itself: at most `size` bytes (from `setting`) within
    /// `http.body_read_timeout`.
    pub fn body_limits(&self, size: u64, setting: &'static str) -> crate::client_body::BodyLimits {
        crate::client_body::BodyLimits {
            size,
            setting,
            time: self.settings.http.body_read_timeout.get(),
        }
    }

    /// Opens the data dir and restores every registered function (cold: nothing is loaded).
    pub async fn open(settings: Settings) -> Result<Arc<Self>, ApiError> {
        make_private(&settings.data_dir)?;
        let pool = Pool::open(&settings.pool, &settings.data_dir.join(ARTIFACT_DIR))?;
        pool.set_keep_alive(settings.keepalive.policy, settings.keepalive.time_scale);
        let registry = Registry::open(
            &settings.data_dir.join(REGISTRY_FILE),
            settings.versions.keep,
        )?;
        let originals = OriginalStore::open(settings.data_dir.join(ORIGINAL_DIR))?;
        let metrics = Arc::new(
            Metrics::new(settings.pool.code_budget.bytes()).map_err(|e| ApiError::Internal {
                reason: format!("metrics: {e}"),
            })?,
        );
        metrics.set_quotas(&settings.quotas);
        let admission = Admission::new(&settings, &metrics)?;
        let access = crate::auth::Access::new(
            &settings,
            crate::auth::AuthFailures::new(metrics.auth_failures.clone()),
        )?;
        let kv: Arc<dyn KvBackend> = Arc::new(CountedKv::new(
            open_kv(&settings).await?,
            &metrics.kv_operations,
            metrics
                .quota_refusals
                .with_label_values(&[crate::quotas::Quota::KvBytes.key()]),
        ));
        if admission.trusted_issuers() == 0 {
            tracing::warn!(
                "no trusted issuer: every deploy will be refused; start with --trust PUBKEY (see `wasmgate keys generate`)"
            );
        }
        let oci = crate::oci::pull::Puller::new(&settings, |var| std::env::var(var).ok())
            .map_err(|reason| wasmgate_config::Error::InvalidSettings { reason })?;
        let cluster = crate::cluster::ClusterNode::open(&settings, metrics.registry()).await?;
        let slots = crate::schedules::SlotStore::open(
            &settings.data_dir,
            cluster.as_ref().map(|node| node.cluster.clone()),
        )?;
        let bus = open_bus(&settings).await?;
        let guest_bus: Arc<dyn Bus> = Arc::new(CountedBus::new(bus.clone(), &metrics));
        let calls = CallStore::open(settings.data_dir.join(CALLS_FILE)).await?;
        tokio::spawn(expire_old(
            calls.clone(),
            settings.async_calls.retention.get(),
        ));
        let connection_reports =
            crate::server::outcome::Reports::new(metrics.connections_closed.clone());
        let gateway = Arc::new(Gateway {
            calls,
            workers: Workers::default(),
            metrics,
            kv,
            bus,
            guest_bus,
            admission,
            pool,
            catalog: Catalog::default(),
            registry,
            originals,
            artifact_gc: tokio::sync::RwLock::new(()),
            access,
            connection_reports,
            cluster,
            canaries: crate::canary::Canaries::default(),
            slots,
            oci,
            ready: AtomicBool::new(false),
            draining: tokio::sync::watch::Sender::new(false),
            settings,
        });
        crate::restore::restore(&gateway).await?;
        if let Some(node) = &gateway.cluster {
            crate::cluster::start(&gateway, node).await;
        }
        // Calls accepted before a stop run now.
        let resumed = crate::async_calls::resume(&gateway).await?;
        if resumed > 0 {
            tracing::info!(calls = resumed, "resumed queued async calls");
        }
        gateway.ready.store(true, Ordering::Release);
        Ok(gateway)
    }

    /// Builds the pool handle and catalog entry for `record` (loads nothing).
    pub fn deployed(&self, record: Record) -> Result<Arc<Deployed>, ApiError> {
        self.deployed_or_down(record, None)
    }

    /// Builds the catalog entry for `record`, down with `down` when given (loads nothing).
    pub fn deployed_or_down(
        &self,
        record: Record,
        down: Option<Arc<ApiError>>,
    ) -> Result<Arc<Deployed>, ApiError> {
        let artifact = Digest::parse(&record.artifact).ok_or_else(|| ApiError::Internal {
            reason: format!("record {} has a malformed artifact digest", record.name),
        })?;
        let settings = record
            .manifest
            .resolve(&self.settings.defaults, &self.settings.pool)?;
        let function = self.pool.function(FunctionSpec {
            name: record.name.clone(),
            artifact,
            artifact_size: record.artifact_size,
            grants: record.claims.wasmgate.caps.iter().copied().collect(),
            settings,
            on_cold_start: Some(cold_start_hook(&self.metrics, &record.name)),
            config: resolve_config(&record.manifest, &self.settings.secrets, process_env)?,
            kv: KvCtx::new(self.kv.clone(), record.kv_scope()?),
            messaging: MessagingCtx::new(self.guest_bus.clone())
                .with_publish_grants(publish_grants(&record.manifest)?),
            egress: EgressCtx::new(
                &record.name,
                &record.claims.wasmgate.caps,
                &record.claims.wasmgate.allowed_hosts,
                &self.settings.egress.allow,
                Some(egress_refused_hook(&self.metrics, &record.name)),
            ),
        });
        Ok(Arc::new(Deployed {
            record,
            function,
            execute: ExecuteCache::default(),
            metrics: FunctionMetrics::default(),
            requests: std::sync::atomic::AtomicU64::new(0),
            stats: crate::canary::VersionStats::default(),
            subscriptions: Subscriptions::default(),
            down,
        }))
    }

    /// Forgets a deleted function's metric series.
    pub fn forget_metrics(&self, name: &str) {
        self.metrics.forget(name);
    }

    /// Whether the gateway accepts work (false before restore finishes and while draining).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Marks the gateway as draining: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.ready.store(false, Ordering::Release);
        self.draining.send_replace(true);
    }

    /// Watches for the drain: turns `true` when [`start_draining`](Self::start_draining) is
    /// called (answers that could last for ever, such as followed logs, end then).
    pub fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.draining.subscribe()
    }
}

/// The subjects a function's guests may publish on: its manifest's `[messaging] publish`.
fn publish_grants(
    manifest: &wasmgate_config::Manifest,
) -> Result<Vec<wasmgate_capabilities::messaging::Pattern>, ApiError> {
    manifest
        .messaging
        .publish
        .iter()
        .map(|s| wasmgate_capabilities::messaging::Pattern::parse(s.as_str()).map_err(Into::into))
        .collect()
}

/// Creates the data dir `0700`, or narrows an existing one and everything in it to `0700`/`0600`,
/// logging each entry it changes (see [`private_files`]).
fn make_private(data_dir: &Path) -> Result<(), ApiError> {
    let failed = |e: std::io::Error| ApiError::Internal {
        reason: format!("cannot make data dir {} private: {e}", data_dir.display()),
    };
    private_files::create_dir(data_dir).map_err(failed)?;
    for narrowed in private_files::tighten(data_dir).map_err(failed)? {
        tracing::info!(
            path = %narrowed.path.display(),
            was = %format_args!("{:04o}", narrowed.was),
            now = %format_args!("{:04o}", narrowed.now),
            "data dir entry was readable by others: narrowed"
        );
    }
    Ok(())
}

/// Counts each cold start of `name` in the metrics.
fn cold_start_hook(metrics: &Arc<Metrics>, name: &str) -> ColdStartHook {
    let (metrics, name) = (metrics.clone(), name.to_owned());
    Arc::new(move |took| metrics.cold_start(&name, took))
}

/// Counts each egress refusal of `name`'s guests by reason.
fn egress_refused_hook(metrics: &Arc<Metrics>, name: &str) -> RefusedHook {
    let counter = metrics.egress_refused.clone();
    let name = name.to_owned();
    Arc::new(move |reason| counter.with_label_values(&[name.as_str(), reason]).inc())
}

/// Opens the key-value backend the settings name: a redb file in the data dir, or a Redis server;
/// either holds each namespace to `quotas.max_kv_bytes`.
async fn open_kv(settings: &Settings) -> Result<Arc<dyn KvBackend>, ApiError> {
    let failed = |e: wasmgate_capabilities::Error| ApiError::Internal {
        reason: format!("key-value store: {e}"),
    };
    let quota = settings.quotas.max_kv_bytes.bytes();
    Ok(match (settings.kv.backend, &settings.kv.url) {
        (KvBackendKind::Redis, Some(url)) => Arc::new(
            RedisBackend::connect(url)
                .await
                .map_err(failed)?
                .with_quota(quota),
        ),
        _ => Arc::new(
            RedbBackend::open(
                &settings
                    .data_dir
                    .join(wasmgate_capabilities::keyvalue::REDB_FILE_NAME),
            )
            .map_err(failed)?
            .with_quota(quota),
        ),
    })
}

/// Opens the message bus the settings name: in process (durable in the data dir) or NATS, each
/// subscription's backlog bounded by `quotas.max_backlog_messages` and `max_backlog_bytes`.
async fn open_bus(settings: &Settings) -> Result<Arc<dyn Bus>, ApiError> {
    let limits = BacklogLimits {
        messages: u64::from(settings.quotas.max_backlog_messages),
        bytes: settings.quotas.max_backlog_bytes.bytes(),
    };
    // In cluster mode the cluster's NATS is the bus unless `[messaging]` names another.
    let cluster_nats = settings
        .cluster
        .nats_url
        .as_ref()
        .filter(|_| settings.messaging.backend == BusBackendKind::Embedded);
    let nats = match (settings.messaging.backend, &settings.messaging.url) {
        (BusBackendKind::Nats, Some(url)) => Some(url),
        _ => cluster_nats,
    };
    Ok(match nats {
        Some(url) => {
            let format = match settings.messaging.event_format {
                EventFormat::Protobuf => cloudevent::Format::Protobuf,
                EventFormat::Json => cloudevent::Format::Json,
            };
            let bus = if settings.cluster.enabled() {
                // The cluster's NATS as the bus: the same user, if it asks for one.
                let credentials = if Some(url) == settings.cluster.nats_url.as_ref() {
                    crate::cluster::nats_credentials(settings)?
                } else {
                    None
                };
                NatsBus::connect_with_backlog_retrying(
                    url,
                    limits,
                    credentials.map(|c| (c.user, c.password)),
                )
                .await?
            } else {
                NatsBus::connect_with_backlog(url, limits).await?
            };
            Arc::new(bus.with_event_format(format))
        }
        _ => Arc::new(EmbeddedBus::open(&settings.data_dir)?.with_backlog(limits)),
    })
}
