//! Typed configuration for wasmgate: the server [`Settings`] a node starts with, layered from
//! defaults, a TOML file, `WASMGATE_*` variables and flags by [`load`]; the function [`Manifest`]
//! a deploy sends, merged with the node's defaults into [`FunctionSettings`] by
//! [`Manifest::resolve`]; and the validated values both are made of ([`FunctionName`],
//! [`ByteSize`], [`HumanDuration`], [`Route`], [`Subject`], [`HostPattern`], [`IpRange`]), which
//! cannot hold an invalid value. A manifest's [`Schedule`]s parse into [`Timetable`]s (cron
//! patterns read by `croner`) that say when each fires.
//!
//! It does no I/O beyond reading the one settings file, never reads the process environment
//! (the caller passes it in), and knows nothing of HTTP, wasmtime or async runtimes. Every
//! default is a documented constant in [`defaults`]; `config/examples/wasmgate.toml` lists them.
//!
//! ```no_run
//! use std::collections::BTreeMap;
//! use wasmgate_config::{Manifest, Overrides, Sources};
//!
//! # fn main() -> Result<(), wasmgate_config::Error> {
//! let env: BTreeMap<String, String> =
//!     std::env::vars().filter(|(k, _)| k.starts_with("WASMGATE_")).collect();
//! let settings = wasmgate_config::load(Sources {
//!     file: Some(std::path::Path::new("wasmgate.toml")),
//!     env: &env,
//!     overrides: Overrides::default(),
//! })?;
//!
//! let manifest = Manifest::from_toml("[limits]\nmemory = \"64MiB\"\ntimeout = \"5s\"\n")?;
//! let function = manifest.resolve(&settings.defaults, &settings.pool)?;
//! assert_eq!(function.memory, 64 << 20);
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod access;
mod async_calls_settings;
mod byte_size;
mod capability;
mod cluster_settings;
mod config_value;
pub mod defaults;
mod duration;
mod egress_settings;
mod error;
mod grant;
mod health;
mod host_pattern;
mod http_settings;
mod ip_range;
mod keepalive_settings;
mod load;
mod log_format;
mod manifest;
mod name;
mod name_pattern;
mod quotas_settings;
mod registry_settings;
mod resolve;
mod rollout;
mod route;
mod schedule;
mod schedule_settings;
mod secrets_settings;
mod settings;
mod sticky_key;
mod subject;
mod token_digest;
mod tracing_settings;
mod validate;
mod versions_settings;
mod wasi_target;

pub use async_calls_settings::AsyncCallsSettings;
pub use byte_size::ByteSize;
pub use capability::{Capability, CapabilitySet, Need};
pub use cluster_settings::{ClusterSettings, MISSED_HEARTBEATS, valid_node_id};
pub use config_value::ConfigValue;
pub use duration::HumanDuration;
pub use egress_settings::EgressSettings;
pub use error::{Error, Result, shown};
pub use grant::Grant;
pub use health::{
    DEFAULT_HEALTH_FAILURES, DEFAULT_HEALTH_INTERVAL, DEFAULT_HEALTH_TIMEOUT,
    HEALTH_FAILURES_RANGE, HealthSection, HealthTarget, MAX_HEALTH_TIMEOUT, MIN_HEALTH_INTERVAL,
};
pub use host_pattern::HostPattern;
pub use http_settings::HttpSettings;
pub use ip_range::IpRange;
pub use keepalive_settings::{KeepAlivePolicy, KeepAliveSettings};
pub use load::{
    ENV_ADMIN_TOKEN, ENV_ADVERTISE, ENV_CLUSTER, ENV_CLUSTER_TOKEN, ENV_DATA_DIR,
    ENV_INSECURE_OPEN_ADMIN, ENV_LISTEN, ENV_LOG_FORMAT, ENV_METRICS_LISTEN, ENV_METRICS_TOKEN,
    ENV_NODE_ID, ENV_NODE_KEY, ENV_TRUSTED_ISSUERS, ENV_TRUSTED_NODES, Overrides, Sources, load,
};
pub use log_format::LogFormat;
pub use manifest::{
    HttpSection, KeyvalueSection, LimitsSection, Manifest, MessagingSection, ScaleSection,
    TrafficSection, Trigger,
};
pub use name::{FunctionName, MAX_NAME_LEN};
pub use name_pattern::NamePattern;
pub use quotas_settings::QuotaSettings;
pub use registry_settings::RegistrySettings;
pub use resolve::{FunctionSettings, Reuse};
pub use rollout::{CANARY_SHARE_RULE, CanaryShare, MAX_CANARY_WINDOW, RolloutSection};
pub use route::{MAX_ROUTE_LEN, MAX_ROUTE_PARAMS, RESERVED_PREFIXES, Route};
pub use schedule::{MAX_SCHEDULES, MIN_SCHEDULE_INTERVAL, Schedule, ScheduleTarget, Timetable};
pub use schedule_settings::ScheduleSettings;
pub use secrets_settings::{EnvPattern, SecretsSettings};
pub use settings::{
    AdmissionSettings, BusBackendKind, EventFormat, EventSettings, FunctionDefaults, KvBackendKind,
    KvSettings, MessagingSettings, PoolSettings, RemoteOpaSettings, Settings,
};
pub use sticky_key::StickyKey;
pub use subject::{MAX_SUBJECT_LEN, Subject};
pub use token_digest::TokenDigest;
pub use tracing_settings::{DEFAULT_SAMPLE_RATIO, DEFAULT_SERVICE_NAME, TracingSettings};
pub use versions_settings::VersionsSettings;
pub use wasi_target::{SERVED_P3, WasiTarget, WasiVersion};
