//! The checks that make a [`Settings`] safe to start a node with.

use crate::defaults::*;
use crate::error::{Error, Result};
use crate::http_settings::HttpSettings;
use crate::manifest::out_of;
use crate::settings::{FunctionDefaults, PoolSettings, Settings};

/// Length of an Ed25519 public key (32 bytes) in unpadded base64url.
const ISSUER_KEY_LEN: usize = 43;

impl Settings {
    /// The `[admission]` keys about who may sign what: audience, validity, issuer name lists.
    fn validate_tenancy(&self) -> Result<()> {
        let admission = &self.admission;
        if let Some(audience) = &admission.audience {
            ensure(
                !audience.is_empty()
                    && audience.len() <= MAX_AUDIENCE_LEN
                    && !audience.chars().any(char::is_control),
                || {
                    format!(
                        "admission.audience `{}` is invalid: name this gateway or cluster in 1 to {MAX_AUDIENCE_LEN} printable characters, e.g. `prod-eu`",
                        audience.escape_debug()
                    )
                },
            )?;
        }
        ensure(!admission.max_validity.is_zero(), || {
            format!(
                "admission.max_validity is zero: no signature could be admitted; set e.g. `{DEFAULT_MAX_VALIDITY}`"
            )
        })?;
        for (issuer, names) in &admission.issuer_names {
            ensure(well_formed_issuer(issuer), || {
                format!(
                    "admission.issuer_names: `{}` is not a public key: write the issuer's Ed25519 public key as {ISSUER_KEY_LEN} base64url characters without padding",
                    issuer.escape_debug()
                )
            })?;
            ensure(!names.is_empty(), || {
                format!(
                    "admission.issuer_names: issuer {issuer} has an empty list, which would let it sign nothing: list its names (`team-a-*`) or leave it out"
                )
            })?;
        }
        Ok(())
    }

    /// Checks that the settings are consistent, naming the first key that is not and what to set
    /// it to; [`load`](crate::load) calls it, so a node never starts on settings that fail it.
    pub fn validate(&self) -> Result<()> {
        ensure(!self.data_dir.as_os_str().is_empty(), || {
            format!("data_dir is empty: set a directory such as `{DEFAULT_DATA_DIR}`")
        })?;
        self.validate_access()?;
        for issuer in &self.trusted_issuers {
            ensure(well_formed_issuer(issuer), || {
                format!(
                    "trusted issuer `{}` is not a public key: write the issuer's Ed25519 public key as {ISSUER_KEY_LEN} base64url characters without padding",
                    issuer.escape_debug()
                )
            })?;
        }
        for policy in &self.policies {
            ensure(!policy.as_os_str().is_empty(), || {
                "policies has an empty path: name a .rego file".to_owned()
            })?;
        }
        ensure(self.max_module_size.bytes() > 0, || {
            format!(
                "max_module_size is zero: set it to the largest component you deploy, e.g. `{DEFAULT_MAX_MODULE_SIZE}`"
            )
        })?;
        if let Some(opa) = &self.admission.opa {
            ensure(opa.url.starts_with("http://"), || {
                format!(
                    "admission.opa.url `{}` must be an http:// URL of an OPA server, e.g. `http://127.0.0.1:8181`",
                    opa.url.escape_debug()
                )
            })?;
            ensure(!opa.timeout.get().is_zero(), || {
                "admission.opa.timeout is zero: give the OPA server time to answer, e.g. `1s`"
                    .to_owned()
            })?;
        }
        self.validate_tenancy()?;
        match (&self.kv.backend, &self.kv.url) {
            (crate::KvBackendKind::Redis, None) => {
                return Err(Error::InvalidSettings {
                    reason: "kv.backend is \"redis\" but kv.url is missing: set e.g. `redis://127.0.0.1:6379/0`".into(),
                });
            }
            (crate::KvBackendKind::Redis, Some(url))
                if !url.starts_with("redis://") && !url.starts_with("rediss://") =>
            {
                return Err(Error::InvalidSettings {
                    reason: format!("kv.url `{}` is not a redis:// URL", url.escape_debug()),
                });
            }
            _ => {}
        }
        if self.messaging.backend == crate::BusBackendKind::Nats {
            let url = self.messaging.url.as_deref().unwrap_or("");
            ensure(url.starts_with("nats://"), || {
                "messaging.backend is \"nats\": set messaging.url to a nats:// URL, e.g. `nats://127.0.0.1:4222`".to_owned()
            })?;
        }
        ensure((1..=100).contains(&self.events.max_attempts), || {
            format!(
                "events.max_attempts {} is out of range: deliver each event 1 to 100 times",
                self.events.max_attempts
            )
        })?;
        self.validate_cluster()?;
        self.http.validate()?;
        self.async_calls.validate()?;
        self.quotas.validate()?;
        self.versions.validate()?;
        self.tracing.validate()?;
        for (host, registry) in &self.registries {
            registry.validate(host)?;
        }
        self.pool.validate()?;
        self.keepalive.validate()?;
        self.defaults.validate(&self.pool)
    }
}

impl Settings {
    /// `[cluster]` and what cluster mode needs from the rest: a key-value store every node
    /// shares, and a secret every node knows to authenticate forwarded calls with.
    fn validate_cluster(&self) -> Result<()> {
        self.cluster.validate()?;
        if !self.cluster.enabled() {
            return Ok(());
        }
        ensure(self.kv.backend == crate::KvBackendKind::Redis, || {
            "cluster mode needs a key-value store every node shares, and the embedded one is a file on this node: set `[kv] backend = \"redis\"` and `url = \"redis://HOST:6379\"`".to_owned()
        })?;
        ensure(
            self.cluster.token.is_some() || self.admin_token.is_some(),
            || {
                "cluster mode needs a secret every node shares to authenticate forwarded calls: set the same admin token on every node (WASMGATE_ADMIN_TOKEN) or cluster.token (WASMGATE_CLUSTER_TOKEN)".to_owned()
            },
        )
    }
}

impl HttpSettings {
    fn validate(&self) -> Result<()> {
        ensure(self.max_connections >= 1, || {
            format!(
                "http.max_connections is 0: serve at least 1 connection, e.g. {DEFAULT_MAX_CONNECTIONS}"
            )
        })?;
        ensure(
            (MIN_HEADER_SIZE..=MAX_HEADER_SIZE).contains(&self.max_header_size),
            || {
                format!(
                    "http.max_header_size {} is out of range: set between `{MIN_HEADER_SIZE}` and `{MAX_HEADER_SIZE}`, e.g. `{DEFAULT_MAX_HEADER_SIZE}`",
                    self.max_header_size
                )
            },
        )?;
        ensure((1..=10_000).contains(&self.max_headers), || {
            format!(
                "http.max_headers {} is out of range: allow 1 to 10000 header fields, e.g. {DEFAULT_MAX_HEADERS}",
                self.max_headers
            )
        })?;
        ensure(!self.header_read_timeout.is_zero(), || {
            format!(
                "http.header_read_timeout is zero: give clients time to send a request, e.g. `{DEFAULT_HEADER_READ_TIMEOUT}`"
            )
        })?;
        ensure(!self.write_timeout.is_zero(), || {
            format!(
                "http.write_timeout is zero: give clients time to read, e.g. `{DEFAULT_WRITE_TIMEOUT}`"
            )
        })?;
        ensure(self.control_frame_burst >= 1, || {
            format!(
                "http.control_frame_burst is 0: allow HTTP/2 clients their SETTINGS and PINGs, e.g. {DEFAULT_CONTROL_FRAME_BURST}"
            )
        })?;
        ensure(!self.body_read_timeout.is_zero(), || {
            format!(
                "http.body_read_timeout is zero: give clients time to send a body, e.g. `{DEFAULT_BODY_READ_TIMEOUT}`"
            )
        })?;
        ensure(self.max_request_body.bytes() > 0, || {
            format!(
                "http.max_request_body is zero: allow request bodies, e.g. `{DEFAULT_MAX_REQUEST_BODY}`"
            )
        })?;
        ensure(self.max_concurrent_streams >= 1, || {
            format!(
                "http.max_concurrent_streams is 0: allow at least 1 stream, e.g. {DEFAULT_MAX_CONCURRENT_STREAMS}"
            )
        })
    }
}

impl PoolSettings {
    fn validate(&self) -> Result<()> {
        ensure(self.instances >= 1, || {
            format!(
                "pool.instances is 0: allow at least 1 live instance, e.g. {DEFAULT_POOL_INSTANCES}"
            )
        })?;
        ensure(self.code_budget.bytes() > 0, || {
            format!(
                "pool.code_budget is zero: give loaded code some memory, e.g. `{DEFAULT_CODE_BUDGET}`"
            )
        })?;
        ensure(self.max_memory >= MIN_MEMORY, || {
            format!(
                "pool.max_memory {} is below one WebAssembly page: set at least `{MIN_MEMORY}`",
                self.max_memory
            )
        })?;
        ensure(
            self.wasm_stack >= MIN_WASM_STACK && self.wasm_stack < MAX_WASM_STACK,
            || {
                format!(
                    "pool.wasm_stack {} is out of range: set at least `{MIN_WASM_STACK}` and below `{MAX_WASM_STACK}`",
                    self.wasm_stack
                )
            },
        )?;
        ensure(self.memory_guard <= MAX_MEMORY_GUARD, || {
            format!(
                "pool.memory_guard {} is too large: set at most `{MAX_MEMORY_GUARD}`, e.g. `{DEFAULT_MEMORY_GUARD}`",
                self.memory_guard
            )
        })?;
        let tick = self.epoch_tick.get();
        ensure((MIN_EPOCH_TICK..=MAX_EPOCH_TICK).contains(&tick), || {
            format!(
                "pool.epoch_tick {} is out of range: set between 1ms and 1s, e.g. `{DEFAULT_EPOCH_TICK}`",
                self.epoch_tick
            )
        })
    }
}

impl FunctionDefaults {
    fn validate(&self, pool: &PoolSettings) -> Result<()> {
        ensure(!self.timeout.is_zero(), || {
            format!(
                "defaults.timeout is zero: every request needs time to run, e.g. `{DEFAULT_TIMEOUT}`"
            )
        })?;
        ensure(self.max_concurrency >= 1, || {
            format!(
                "defaults.max_concurrency is 0: allow at least 1, e.g. {DEFAULT_MAX_CONCURRENCY}"
            )
        })?;
        ensure(self.max_instances >= 1, || {
            format!("defaults.max_instances is 0: allow at least 1, e.g. {DEFAULT_MAX_INSTANCES}")
        })?;
        ensure(self.min_instances <= self.max_instances, || {
            format!(
                "defaults.min_instances {} exceeds defaults.max_instances {}: lower the first or raise the second",
                self.min_instances, self.max_instances
            )
        })?;
        ensure(self.min_instances <= pool.instances, || {
            format!(
                "defaults.min_instances {} exceeds pool.instances {}: the node cannot keep that many ready",
                self.min_instances, pool.instances
            )
        })?;
        ensure(self.memory >= MIN_MEMORY, || {
            format!(
                "defaults.memory {} is below one WebAssembly page: set at least `{MIN_MEMORY}`",
                self.memory
            )
        })?;
        ensure(self.memory <= pool.max_memory, || {
            format!(
                "defaults.memory {} exceeds pool.max_memory {}: lower the first or raise the second",
                self.memory, pool.max_memory
            )
        })?;
        ensure(self.max_response_body.bytes() > 0, || {
            format!(
                "defaults.max_response_body is zero: allow the responses functions send, e.g. `{DEFAULT_MAX_RESPONSE_BODY}`"
            )
        })?;
        ensure(
            MESSAGES_PER_CALL_RANGE.contains(&self.max_messages_per_call),
            || {
                format!(
                    "defaults.max_messages_per_call {} {}, e.g. {DEFAULT_MAX_MESSAGES_PER_CALL}",
                    self.max_messages_per_call,
                    out_of(&MESSAGES_PER_CALL_RANGE)
                )
            },
        )?;
        ensure(OPEN_BUCKETS_RANGE.contains(&self.max_open_buckets), || {
            format!(
                "defaults.max_open_buckets {} {}, e.g. {DEFAULT_MAX_OPEN_BUCKETS}",
                self.max_open_buckets,
                out_of(&OPEN_BUCKETS_RANGE)
            )
        })?;
        ensure(REUSE_MAX_USES_RANGE.contains(&self.reuse_max_uses), || {
            format!(
                "defaults.reuse_max_uses {} {}, e.g. {DEFAULT_REUSE_MAX_USES}",
                self.reuse_max_uses,
                out_of(&REUSE_MAX_USES_RANGE)
            )
        })?;
        ensure(!self.reuse_idle.is_zero(), || {
            format!(
                "defaults.reuse_idle is zero: keep a reused instance for a while, e.g. `{DEFAULT_REUSE_IDLE}`"
            )
        })
    }
}

/// `Ok` when `ok`, else [`Error::InvalidSettings`] with the reason built only on failure.
pub(crate) fn ensure(ok: bool, reason: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidSettings { reason: reason() })
    }
}

/// Whether `issuer` has the shape of an Ed25519 public key in unpadded base64url.
pub(crate) fn well_formed_issuer(issuer: &str) -> bool {
    issuer.len() == ISSUER_KEY_LEN
        && issuer
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
