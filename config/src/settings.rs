//! The gateway's own settings: what `wasmgate serve` reads from its TOML file, env and flags.

use crate::async_calls_settings::AsyncCallsSettings;
use crate::byte_size::ByteSize;
use crate::cluster_settings::ClusterSettings;
use crate::defaults::*;
use crate::duration::HumanDuration;
use crate::egress_settings::EgressSettings;
use crate::http_settings::HttpSettings;
use crate::keepalive_settings::KeepAliveSettings;
use crate::log_format::LogFormat;
use crate::name_pattern::NamePattern;
use crate::quotas_settings::QuotaSettings;
use crate::registry_settings::RegistrySettings;
use crate::secrets_settings::SecretsSettings;
use crate::tracing_settings::TracingSettings;
use crate::versions_settings::VersionsSettings;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything one gateway node needs to start; every key is optional in the file.
///
/// Build it with [`load`](crate::load), which layers file, environment and flags and then
/// [validates](Settings::validate) the result.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on; port 0 picks a free one.
    pub listen: SocketAddr,
    /// Directory holding the registry and the precompiled artifacts.
    pub data_dir: PathBuf,
    /// Bearer token the admin API (`/functions*`, `/publish/*`, any call's result) and `/metrics`
    /// require; at least [`MIN_TOKEN_LEN`] characters. `None`: the token generated at first start
    /// and kept in `DATA_DIR/admin-token` (mode 0600) is used.
    pub admin_token: Option<String>,
    /// A bearer token of its own for `/metrics` (operators' scrapers), so they need not hold the
    /// admin token; at least [`MIN_TOKEN_LEN`] characters. The admin token reads `/metrics` too.
    pub metrics_token: Option<String>,
    /// A second listener serving only `/metrics`, `/healthz` and `/readyz`. On a loopback address
    /// it serves them without a token; on any other address `metrics_token` is required.
    pub metrics_listen: Option<SocketAddr>,
    /// Serves the admin API and `/metrics` with no authentication at all. For a developer's own
    /// machine only: refused with a non-loopback `listen` address or with `admin_token` set.
    pub insecure_open_admin: bool,
    /// Issuer public keys (base64url Ed25519) whose signed components may be deployed.
    pub trusted_issuers: Vec<String>,
    /// Rego policy files consulted at admission.
    pub policies: Vec<PathBuf>,
    /// Shape of log lines.
    pub log_format: LogFormat,
    /// Largest deploy body accepted.
    pub max_module_size: ByteSize,
    /// How long SIGTERM waits for in-flight requests; zero stops at once.
    pub shutdown_grace: HumanDuration,
    /// What one client may send and hold (`[http]`).
    pub http: HttpSettings,
    /// Limits and scaling for functions whose manifest leaves them out (`[defaults]`).
    pub defaults: FunctionDefaults,
    /// The node-wide instance pool (`[pool]`).
    pub pool: PoolSettings,
    /// Which functions stay loaded between calls, and for how long (`[keepalive]`).
    pub keepalive: KeepAliveSettings,
    /// How admission decisions are made and cached (`[admission]`).
    pub admission: AdmissionSettings,
    /// Where guests' key-value data lives (`[kv]`).
    pub kv: KvSettings,
    /// The message bus (`[messaging]`).
    pub messaging: MessagingSettings,
    /// How event-triggered calls are retried (`[events]`).
    pub events: EventSettings,
    /// How functions' `[[schedules]]` run (`[schedules]`).
    pub schedules: crate::schedule_settings::ScheduleSettings,
    /// Internal address ranges outgoing connections may reach (`[egress]`).
    pub egress: EgressSettings,
    /// Bounds of async calls (`[async_calls]`).
    pub async_calls: AsyncCallsSettings,
    /// Environment variables manifests may read (`[secrets]`).
    pub secrets: SecretsSettings,
    /// What the node, each function and each subscription may keep (`[quotas]`).
    pub quotas: QuotaSettings,
    /// Cluster mode on NATS JetStream (`[cluster]`); off unless `nats_url` is set.
    pub cluster: ClusterSettings,
    /// Past deploys kept per function for rollback and traffic splits (`[versions]`).
    pub versions: VersionsSettings,
    /// OpenTelemetry traces over OTLP (`[tracing]`); off unless `otlp_endpoint` is set.
    pub tracing: TracingSettings,
    /// Credentials and plain HTTP per OCI registry host (`[registries."HOST"]`); a registry
    /// without an entry is pulled from anonymously over HTTPS.
    pub registries: BTreeMap<String, RegistrySettings>,
}

/// The message bus behind `wasi:messaging`, triggers and `/publish` (`[messaging]`).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagingSettings {
    /// `embedded` (in process, durable in the data dir) or `nats`.
    pub backend: BusBackendKind,
    /// The NATS server, e.g. `nats://127.0.0.1:4222` (only with `backend = "nats"`).
    pub url: Option<String>,
    /// The CloudEvents format events are sent in on NATS (structured mode of the CloudEvents
    /// NATS protocol binding): `protobuf` (the default) or `json`. Both are read on receipt.
    pub event_format: EventFormat,
}

/// A CloudEvents event format (the CloudEvents specification's "Event Formats").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventFormat {
    /// The Protobuf Event Format, `application/cloudevents+protobuf`.
    #[default]
    Protobuf,
    /// The JSON Event Format, `application/cloudevents+json`.
    Json,
}

/// Which message bus a node uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackendKind {
    /// In process, every accepted message persisted in the data dir.
    #[default]
    Embedded,
    /// A NATS server.
    Nats,
}

/// Retries of event-triggered calls (`[events]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EventSettings {
    /// Deliveries tried per message, the first included; then it goes to the dead-letter subject.
    pub max_attempts: u32,
    /// Wait before the first retry; each further retry waits twice as long.
    pub backoff: HumanDuration,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            max_attempts: DEFAULT_EVENT_ATTEMPTS,
            backoff: DEFAULT_EVENT_BACKOFF,
        }
    }
}

/// The key-value store behind `wasi:keyvalue` (`[kv]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvSettings {
    /// `embedded` (a durable file in the data dir) or `redis`.
    pub backend: KvBackendKind,
    /// The Redis server, e.g. `redis://127.0.0.1:6379/0` (only with `backend = "redis"`).
    pub url: Option<String>,
}

/// Which key-value backend a node uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KvBackendKind {
    /// redb in the data dir.
    #[default]
    Embedded,
    /// A Redis server.
    Redis,
}

impl Default for KvSettings {
    fn default() -> Self {
        KvSettings {
            backend: KvBackendKind::Embedded,
            url: None,
        }
    }
}

/// Admission decisions beyond signatures (`[admission]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdmissionSettings {
    /// How long an `execute` decision is reused before the policy is asked again; every cold start
    /// asks anew. Zero asks on every call.
    pub decision_ttl: HumanDuration,
    /// A remote OPA server asked in addition to the local policies (`[admission.opa]`).
    pub opa: Option<RemoteOpaSettings>,
    /// The audience this gateway (or cluster) answers to. When set, a component is admitted only
    /// when its claims carry exactly this `aud` (`wasmgate sign --audience`); when unset, a
    /// component whose claims name any audience is refused, since it was meant for another
    /// gateway (RFC 7519 §4.1.3: a recipient that does not identify itself with the `aud` value
    /// must reject the token).
    pub audience: Option<String>,
    /// Longest validity a signature may claim (`exp` − `iat`); a longer one is refused
    /// (`validity_too_long`), so a leaked signed build stops deploying within this time.
    pub max_validity: HumanDuration,
    /// Whether signatures without `exp` are admitted. `false` (the default) refuses them
    /// (`expiry_required`); `true` is for operators who rotate issuers instead.
    pub allow_no_expiry: bool,
    /// The function names each issuer may sign, by issuer public key (`[admission.issuer_names]`,
    /// e.g. `"ed25519:…" = ["team-a-*"]`). Issuers left out may sign any name; the first issuer to
    /// deploy a name owns it either way.
    pub issuer_names: BTreeMap<String, Vec<NamePattern>>,
}

/// A remote Open Policy Agent server, asked through its REST Data API (`[admission.opa]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteOpaSettings {
    /// Base URL of the server, e.g. `http://127.0.0.1:8181`; the gateway POSTs to
    /// `{url}/v1/data/wasmgate/admission`.
    pub url: String,
    /// How long to wait for an answer.
    #[serde(default = "default_opa_timeout")]
    pub timeout: HumanDuration,
    /// When the server cannot be asked: `false` (the default) refuses, `true` allows.
    #[serde(default)]
    pub fail_open: bool,
}

fn default_opa_timeout() -> HumanDuration {
    DEFAULT_OPA_TIMEOUT
}

impl Default for AdmissionSettings {
    fn default() -> Self {
        AdmissionSettings {
            decision_ttl: DEFAULT_DECISION_TTL,
            opa: None,
            audience: None,
            max_validity: DEFAULT_MAX_VALIDITY,
            allow_no_expiry: false,
            issuer_names: BTreeMap::new(),
        }
    }
}

/// What a function gets for each manifest key it leaves out (`[defaults]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FunctionDefaults {
    /// Time without work before a function scales to zero; zero releases it as soon as it is idle.
    pub idle_timeout: HumanDuration,
    /// Per-request time limit; never zero.
    pub timeout: HumanDuration,
    /// Linear memory per instance; at most `pool.max_memory`.
    pub memory: ByteSize,
    /// Requests one function serves at once; at least 1.
    pub max_concurrency: u32,
    /// Live instances of one function; at least 1.
    pub max_instances: u32,
    /// Instances kept ready even when idle; above 0 the function never scales to zero.
    pub min_instances: u32,
    /// Bounded wait for a concurrency slot before answering 429; zero refuses at once. Calls
    /// past a full queue are refused after the same time.
    pub queue_timeout: HumanDuration,
    /// Largest response body one call may stream; never zero.
    pub max_response_body: ByteSize,
    /// Messages one call may send on the bus (`wasi:messaging`); within
    /// [`MESSAGES_PER_CALL_RANGE`].
    pub max_messages_per_call: u32,
    /// Key-value buckets one instance may hold open at once; within [`OPEN_BUCKETS_RANGE`].
    pub max_open_buckets: u32,
    /// Calls one reused instance serves before it is dropped, for functions whose manifest sets
    /// `reuse = true`; within [`REUSE_MAX_USES_RANGE`]. Whether to reuse has no node default:
    /// only the function's author knows whether its guest keeps per-request secrets in memory.
    pub reuse_max_uses: u32,
    /// How long a reused instance waits idle for its next call; never zero. A function whose
    /// `idle_timeout` is shorter keeps it that long instead.
    pub reuse_idle: HumanDuration,
}

/// The node-wide pool every function's instances come from (`[pool]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PoolSettings {
    /// Memory budget for loaded code; past it the least valuable warm functions are evicted.
    pub code_budget: ByteSize,
    /// Pooling-allocator slots: the most live instances this node runs at once.
    pub instances: u32,
    /// Ceiling on one instance's linear memory; manifests asking for more are refused.
    pub max_memory: ByteSize,
    /// Wasm stack per call; between [`MIN_WASM_STACK`] and [`MAX_WASM_STACK`] (exclusive).
    pub wasm_stack: ByteSize,
    /// How often long-running guests yield and deadlines are checked; 1ms to 1s.
    pub epoch_tick: HumanDuration,
    /// Guard region after each linear memory, at most [`MAX_MEMORY_GUARD`]: smaller saves
    /// address space per slot, larger lets compiled code skip more bounds checks. It is compiled
    /// into every artifact, so a change rebuilds each function from its signed original at the
    /// next start.
    pub memory_guard: ByteSize,
    /// Whether calls still running past their first epoch tick share the CPU fairly between
    /// functions (at most one runtime thread fewer than there are run them at once, least-used
    /// function first); `false` leaves them only yielding at each tick.
    pub fair_share: bool,
    /// Whether functions whose signed manifest sets `[scale] reuse = true` get their instances
    /// reused; `false` runs every call of every function in a fresh instance (their deploys are
    /// still accepted, and run fresh), for nodes that promise tenants per-request isolation.
    pub allow_reuse: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: DEFAULT_LISTEN,
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            admin_token: None,
            metrics_token: None,
            metrics_listen: None,
            insecure_open_admin: false,
            trusted_issuers: Vec::new(),
            policies: Vec::new(),
            log_format: DEFAULT_LOG_FORMAT,
            max_module_size: DEFAULT_MAX_MODULE_SIZE,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            http: HttpSettings::default(),
            defaults: FunctionDefaults::default(),
            pool: PoolSettings::default(),
            keepalive: KeepAliveSettings::default(),
            admission: AdmissionSettings::default(),
            kv: KvSettings::default(),
            messaging: MessagingSettings::default(),
            events: EventSettings::default(),
            schedules: crate::schedule_settings::ScheduleSettings::default(),
            egress: EgressSettings::default(),
            async_calls: AsyncCallsSettings::default(),
            secrets: SecretsSettings::default(),
            quotas: QuotaSettings::default(),
            cluster: ClusterSettings::default(),
            versions: VersionsSettings::default(),
            tracing: TracingSettings::default(),
            registries: BTreeMap::new(),
        }
    }
}

impl Default for FunctionDefaults {
    fn default() -> Self {
        FunctionDefaults {
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            memory: DEFAULT_MEMORY,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            max_instances: DEFAULT_MAX_INSTANCES,
            min_instances: DEFAULT_MIN_INSTANCES,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            max_messages_per_call: DEFAULT_MAX_MESSAGES_PER_CALL,
            max_open_buckets: DEFAULT_MAX_OPEN_BUCKETS,
            reuse_max_uses: DEFAULT_REUSE_MAX_USES,
            reuse_idle: DEFAULT_REUSE_IDLE,
        }
    }
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            code_budget: DEFAULT_CODE_BUDGET,
            instances: DEFAULT_POOL_INSTANCES,
            max_memory: DEFAULT_MAX_MEMORY,
            wasm_stack: DEFAULT_WASM_STACK,
            epoch_tick: DEFAULT_EPOCH_TICK,
            memory_guard: DEFAULT_MEMORY_GUARD,
            fair_share: DEFAULT_FAIR_SHARE,
            allow_reuse: DEFAULT_ALLOW_REUSE,
        }
    }
}

/// Shows every field except the tokens' values, so settings can be logged.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted =
            |t: &Option<String>| t.as_deref().filter(|t| !t.is_empty()).map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("admin_token", &redacted(&self.admin_token))
            .field("metrics_token", &redacted(&self.metrics_token))
            .field("metrics_listen", &self.metrics_listen)
            .field("insecure_open_admin", &self.insecure_open_admin)
            .field("trusted_issuers", &self.trusted_issuers)
            .field("policies", &self.policies)
            .field("log_format", &self.log_format)
            .field("max_module_size", &self.max_module_size)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("http", &self.http)
            .field("defaults", &self.defaults)
            .field("pool", &self.pool)
            .field("keepalive", &self.keepalive)
            .field("admission", &self.admission)
            .field("kv", &self.kv)
            .field("messaging", &self.messaging)
            .field("events", &self.events)
            .field("schedules", &self.schedules)
            .field("egress", &self.egress)
            .field("async_calls", &self.async_calls)
            .field("secrets", &self.secrets)
            .field("quotas", &self.quotas)
            .field("cluster", &self.cluster)
            .field("versions", &self.versions)
            .field("tracing", &self.tracing)
            .field("registries", &self.registries)
            .finish()
    }
}

#[cfg(test)]
mod tests;
