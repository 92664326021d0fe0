//! The gateway's shared state and what it does at start: open the data dir, restore functions.

use crate::admission::{Admission, ExecuteCache};
use crate::async_calls::{CallStore, Workers, expire_old};
use crate::catalog::{Catalog, Deployed};
use crate::error::ApiError;
use crate::metrics::{CountedBus, CountedKv, FunctionMetrics, Metrics};
use crate::registry::{Record, Registry};
use crate::secrets::{process_env, resolve_config};
use crate::triggers::Subscriptions;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use wasmgate_capabilities::egress::{EgressCtx, RefusedHook};
use wasmgate_capabilities::messaging::{BacklogLimits, Bus, EmbeddedBus, MessagingCtx, NatsBus};
use wasmgate_capabilities::private_files;
use wasmgate_capabilities::{KvBackend, KvCtx, KvScope, RedbBackend, RedisBackend};
use wasmgate_config::{BusBackendKind, KvBackendKind, Settings};
use wasmgate_pool::ColdStartHook;
use wasmgate_pool::{Digest, FunctionSpec, Pool};

/// Sub-folder of the data dir holding precompiled artifacts.
const ARTIFACT_DIR: &str = "artifacts";

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
    ready: AtomicBool,
}

impl Gateway {
    /// Limits for a body the gateway reads itself: at most `size` bytes within
    /// `http.body_read_timeout`.
    pub fn body_limits(&self, size: u64) -> crate::client_body::BodyLimits {
        crate::client_body::BodyLimits {
            size,
            time: self.settings.http.body_read_timeout.get(),
        }
    }

    /// Opens the data dir and restores every registered function (cold: nothing is loaded).
    pub async fn open(settings: Settings) -> Result<Arc<Self>, ApiError> {
        make_private(&settings.data_dir)?;
        let pool = Pool::open(&settings.pool, &settings.data_dir.join(ARTIFACT_DIR))?;
        let registry = Registry::open(&settings.data_dir.join(REGISTRY_FILE))?;
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
            artifact_gc: tokio::sync::RwLock::new(()),
            access,
            connection_reports,
            ready: AtomicBool::new(false),
            settings,
        });
        gateway.restore().await?;
        Ok(gateway)
    }

    /// Builds the pool handle and catalog entry for `record` (loads nothing).
    pub fn deployed(&self, record: Record) -> Result<Arc<Deployed>, ApiError> {
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
            kv: KvCtx::new(self.kv.clone(), kv_scope(&record)?),
            messaging: MessagingCtx::new(self.guest_bus.clone()),
            egress: EgressCtx::new(
                &record.name,
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
            subscriptions: Subscriptions::default(),
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
    }

    async fn restore(self: &Arc<Self>) -> Result<(), ApiError> {
        let records = self.registry.all()?;
        let guard = self.catalog.lock().await;
        let mut live = HashSet::new();
        let mut restored = Vec::with_capacity(records.len());
        for record in records {
            let name = record.name.clone();
            match self.deployed(record) {
                Ok(deployed) => {
                    live.insert(deployed.function.artifact());
                    restored.push(deployed);
                }
                // One bad record must not keep every other function offline.
                Err(e) => tracing::error!(function = %name, error = %e, "cannot restore function"),
            }
        }
        // One snapshot for all of them: inserting one by one rebuilds it each time (quadratic).
        if let Err(e) = self.catalog.insert_all(&guard, restored.clone()) {
            tracing::error!(error = %e, "restored functions conflict; restoring one by one");
            for deployed in &restored {
                if let Err(e) = self.catalog.insert(&guard, deployed.clone()) {
                    tracing::error!(function = %deployed.record.name, error = %e, "cannot restore function");
                }
            }
        }
        for deployed in &restored {
            crate::admin::start(self, deployed);
        }
        drop(guard);
        let removed = self.pool.retain_artifacts(&live)?;
        tracing::info!(
            functions = self.catalog.snapshot().len(),
            removed_artifacts = removed,
            "restored registry"
        );
        // Calls accepted before a stop run now.
        let resumed = crate::async_calls::resume(self).await?;
        if resumed > 0 {
            tracing::info!(calls = resumed, "resumed queued async calls");
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }
}

/// The key-value namespace of `record`'s function: its own buckets and its shared grants.
pub fn kv_scope(record: &Record) -> Result<KvScope, ApiError> {
    KvScope::new(&record.name, &record.manifest.keyvalue.shared).map_err(|e| ApiError::BadRequest {
        reason: format!("keyvalue: {e}"),
    })
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
    Ok(
        match (settings.messaging.backend, &settings.messaging.url) {
            (BusBackendKind::Nats, Some(url)) => {
                Arc::new(NatsBus::connect_with_backlog(url, limits).await?)
            }
            _ => Arc::new(EmbeddedBus::open(&settings.data_dir)?.with_backlog(limits)),
        },
    )
}
