//! The metric families and their registry.

use crate::quotas::Quota;
use prometheus::{
    CounterVec, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry,
};
use std::sync::Mutex;
use wasmgate_capabilities::egress::Refusal;

/// Latency buckets in seconds, from a warm call (~100 µs) to a long request.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

/// The `limit` label values of `wasmgate_guest_limits_total`.
pub(super) const GUEST_LIMITS: [&str; 3] = ["response_body", "messages_per_call", "open_buckets"];

/// The `outcome` label values of `wasmgate_schedule_fires_total`.
pub const SCHEDULE_OUTCOMES: [&str; 3] = ["delivered", "failed", "skipped"];

/// The `stage` label values of `wasmgate_health_checks_total`: before a deploy's new version
/// takes traffic, before a rollback or split makes a kept version live, and while a canary runs.
pub const HEALTH_STAGES: [&str; 3] = ["deploy", "traffic", "canary"];

/// The `outcome` label values of `wasmgate_health_checks_total`.
pub const HEALTH_OUTCOMES: [&str; 2] = ["passed", "failed"];

/// The `outcome` label values of `wasmgate_canaries_total`, as `GET /functions/{name}` shows a
/// canary's end state.
pub const CANARY_OUTCOMES: [&str; 4] = ["promoted", "rolled_back", "superseded", "failed"];

/// Every metric the gateway exports, registered in one registry.
pub struct Metrics {
    pub(super) registry: Registry,
    /// `wasmgate_requests_total{function,status}`.
    pub requests: IntCounterVec,
    /// `wasmgate_request_duration_seconds{function}`: until the response head.
    pub request_duration: HistogramVec,
    /// `wasmgate_unrouted_requests_total{status}`: requests no function matched.
    pub unrouted: IntCounterVec,
    /// `wasmgate_cold_starts_total{function}`.
    pub cold_starts: IntCounterVec,
    /// `wasmgate_cold_start_duration_seconds{function}`: load and link.
    pub cold_start_duration: HistogramVec,
    /// `wasmgate_instances{function}`.
    pub instances: IntGaugeVec,
    /// `wasmgate_instances_kept{function}`: instances kept for reuse and waiting for a call
    /// (functions with `[scale] reuse = true`), also counted in `wasmgate_instances`.
    pub instances_kept: IntGaugeVec,
    /// `wasmgate_instance_reuses_total{function}`: calls served by a kept instance.
    pub instance_reuses: IntCounterVec,
    /// `wasmgate_functions{state}` (`warm`, `cold`, `down`).
    pub functions: IntGaugeVec,
    /// `wasmgate_artifacts_rebuilt_total`: artifacts compiled again at start from their signed
    /// original because another engine had compiled them.
    pub artifacts_rebuilt: IntCounter,
    /// `wasmgate_evictions_total{reason}` (`idle`, `budget`, `removed`).
    pub evictions: IntCounterVec,
    /// `wasmgate_admission_decisions_total{operation,result}`.
    pub admission: IntCounterVec,
    /// `wasmgate_kv_operations_total{op,backend}`.
    pub kv_operations: IntCounterVec,
    /// `wasmgate_messages_total{direction}`.
    pub messages: IntCounterVec,
    /// `wasmgate_loaded_code_bytes`.
    pub loaded_code_bytes: IntGauge,
    /// `wasmgate_memory_budget_bytes`.
    pub memory_budget_bytes: IntGauge,
    /// `wasmgate_memory_demand_bytes`.
    pub memory_demand_bytes: IntGauge,
    /// `wasmgate_memory_seconds_total{function}`: byte-seconds held, loaded code plus the
    /// linear memories and tables of live instances.
    pub memory_seconds: CounterVec,
    /// `wasmgate_memory_busy_seconds_total{function}`: the part of the above held while at
    /// least one call of the function ran.
    pub memory_busy_seconds: CounterVec,
    /// `wasmgate_guest_cpu_seconds_total{function}`: time inside polls of its guests' tasks.
    pub guest_cpu_seconds: CounterVec,
    /// `wasmgate_guest_log_lines_dropped_total{function}`.
    pub guest_log_dropped: IntCounterVec,
    /// `wasmgate_guest_cpu_slices_total{function}`: epoch ticks its calls ran past their first,
    /// in slices of the node's fair CPU share.
    pub guest_cpu_slices: IntCounterVec,
    /// `wasmgate_guest_cpu_waits_total{function}`: times one of its long-running calls waited
    /// for a slice while other calls had the tick's CPU.
    pub guest_cpu_waits: IntCounterVec,
    /// `wasmgate_connections_open`: client connections being served now.
    pub connections_open: IntGauge,
    /// `wasmgate_connections_refused_total{reason}` (`limit`, `header_timeout`).
    pub connections_refused: IntCounterVec,
    /// `wasmgate_connections_closed_total{reason}`: how served connections ended (see
    /// `server::outcome::Outcome::label`).
    pub connections_closed: IntCounterVec,
    /// `wasmgate_http2_streams_reset_total{reason}` (`guest_failed`, `write_timeout`,
    /// `body_error`, `length_mismatch`): response streams the gateway ended with RST_STREAM.
    pub http2_streams_reset: IntCounterVec,
    /// `wasmgate_guest_limits_total{function,limit}` (`response_body`, `messages_per_call`,
    /// `open_buckets`).
    pub guest_limits: IntCounterVec,
    /// `wasmgate_schedule_fires_total{function,outcome}` (see [`SCHEDULE_OUTCOMES`]).
    pub schedule_fires: IntCounterVec,
    /// `wasmgate_health_checks_total{function,stage,outcome}` (see [`HEALTH_STAGES`],
    /// [`HEALTH_OUTCOMES`]).
    pub health_checks: IntCounterVec,
    /// `wasmgate_canaries_total{function,outcome}` (see [`CANARY_OUTCOMES`]): canaries ended.
    pub canaries: IntCounterVec,
    /// `wasmgate_auth_failures_total{audience}` (`admin`, `metrics`, `invoke`): requests refused
    /// for a missing or wrong bearer token.
    pub auth_failures: IntCounterVec,
    /// `wasmgate_egress_refused_total{function,reason}` (`not_granted`, `host_not_granted`,
    /// `address_denied`).
    pub egress_refused: IntCounterVec,
    /// `wasmgate_oci_pulls_total{outcome}`: deploys' pulls from OCI registries, by outcome
    /// (`pulled`, or the error code that refused it, e.g. `artifact_not_found`).
    pub oci_pulls: IntCounterVec,
    /// `wasmgate_quota_refusals_total{quota}`: requests and guest writes refused at a quota,
    /// labelled with its key under `[quotas]`.
    pub quota_refusals: IntCounterVec,
    /// `wasmgate_quota_used{quota}`: what the node uses of its node-wide quotas
    /// (`max_functions`, `max_stored_bytes`), read when scraped.
    pub quota_used: IntGaugeVec,
    /// `wasmgate_quota_limit{quota}`: every quota in force, from the settings.
    pub quota_limit: IntGaugeVec,
    /// Serialises scrapes, which bring the state-derived series up to date before encoding.
    pub(super) scrape: Mutex<()>,
}

impl Metrics {
    /// Registers every family; `budget` is the node's code budget in bytes.
    pub fn new(budget: u64) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| {
            let c = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let gauge_vec = |name: &str, help: &str, labels: &[&str]| {
            let g = IntGaugeVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let histogram_vec = |name: &str, help: &str| {
            let h = HistogramVec::new(
                HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()),
                &["function"],
            )?;
            registry.register(Box::new(h.clone()))?;
            Ok::<_, prometheus::Error>(h)
        };
        let gauge = |name: &str, help: &str| {
            let g = IntGauge::new(name, help)?;
            registry.register(Box::new(g.clone()))?;
            Ok::<_, prometheus::Error>(g)
        };
        let float_counter_vec = |name: &str, help: &str| {
            let c = CounterVec::new(Opts::new(name, help), &["function"])?;
            registry.register(Box::new(c.clone()))?;
            Ok::<_, prometheus::Error>(c)
        };
        let memory_seconds = float_counter_vec(
            "wasmgate_memory_seconds_total",
            "Byte-seconds each function has held (loaded code, and the linear memories and tables of its live instances): its memory cost over time.",
        )?;
        let memory_busy_seconds = float_counter_vec(
            "wasmgate_memory_busy_seconds_total",
            "Byte-seconds each function held while at least one of its calls ran: the part of wasmgate_memory_seconds_total that did work.",
        )?;
        let guest_cpu_seconds = float_counter_vec(
            "wasmgate_guest_cpu_seconds_total",
            "Seconds each function's guests ran (inside polls of their tasks: wasm, instantiation and host calls made synchronously; I/O waits excluded).",
        )?;
        let metrics = Metrics {
            requests: counter_vec(
                "wasmgate_requests_total",
                "Requests served by each function, by response status.",
                &["function", "status"],
            )?,
            request_duration: histogram_vec(
                "wasmgate_request_duration_seconds",
                "Time from a request's arrival to its response head, per function.",
            )?,
            unrouted: counter_vec(
                "wasmgate_unrouted_requests_total",
                "Requests that matched no function, by response status.",
                &["status"],
            )?,
            cold_starts: counter_vec(
                "wasmgate_cold_starts_total",
                "Times each function's code was loaded and linked.",
                &["function"],
            )?,
            cold_start_duration: histogram_vec(
                "wasmgate_cold_start_duration_seconds",
                "Time to load and link a function's code on a cold start.",
            )?,
            instances: gauge_vec(
                "wasmgate_instances",
                "Live instances of each function.",
                &["function"],
            )?,
            functions: gauge_vec(
                "wasmgate_functions",
                "Deployed functions by state (warm: code loaded; cold: only on disk; down: refused at start, see GET /functions/NAME for why).",
                &["state"],
            )?,
            artifacts_rebuilt: {
                let c = IntCounter::new(
                    "wasmgate_artifacts_rebuilt_total",
                    "Artifacts compiled again at start from their verified signed original, because another engine (wasmtime version, CPU features, pool.memory_guard) had compiled them.",
                )?;
                registry.register(Box::new(c.clone()))?;
                c
            },
            evictions: counter_vec(
                "wasmgate_evictions_total",
                "Loaded code released, by reason (idle, budget, removed).",
                &["reason"],
            )?,
            admission: counter_vec(
                "wasmgate_admission_decisions_total",
                "Admission decisions by operation (deploy, execute) and result (allow, deny, error, cached).",
                &["operation", "result"],
            )?,
            kv_operations: counter_vec(
                "wasmgate_kv_operations_total",
                "Key-value operations by guests, by operation and backend.",
                &["op", "backend"],
            )?,
            messages: counter_vec(
                "wasmgate_messages_total",
                "Messages through the bus, by direction.",
                &["direction"],
            )?,
            loaded_code_bytes: gauge(
                "wasmgate_loaded_code_bytes",
                "Bytes of function code loaded in memory now.",
            )?,
            memory_budget_bytes: gauge(
                "wasmgate_memory_budget_bytes",
                "The node's budget for loaded code (pool.code_budget).",
            )?,
            memory_demand_bytes: gauge(
                "wasmgate_memory_demand_bytes",
                "Bytes the keep-alive policy wants resident: what is held plus what the budget evicted before its keep-alive ended. Above wasmgate_memory_budget_bytes the node is short of memory; ceil(demand / budget) is the memory side of the nodes this load needs.",
            )?,
            memory_seconds,
            memory_busy_seconds,
            guest_cpu_seconds,
            instances_kept: gauge_vec(
                "wasmgate_instances_kept",
                "Instances kept after a clean call for the next call of the same version (functions with [scale] reuse = true); also counted in wasmgate_instances.",
                &["function"],
            )?,
            instance_reuses: counter_vec(
                "wasmgate_instance_reuses_total",
                "Calls served by an instance kept from an earlier call instead of a fresh one (functions with [scale] reuse = true).",
                &["function"],
            )?,
            guest_log_dropped: counter_vec(
                "wasmgate_guest_log_lines_dropped_total",
                "Guest stdout/stderr lines dropped by the per-function log rate limit.",
                &["function"],
            )?,
            guest_cpu_slices: counter_vec(
                "wasmgate_guest_cpu_slices_total",
                "Epoch ticks of CPU a function's calls ran past their first tick, each a slice of the node's fair share.",
                &["function"],
            )?,
            guest_cpu_waits: counter_vec(
                "wasmgate_guest_cpu_waits_total",
                "Times a function's long-running call waited for a CPU slice while other calls had the tick's.",
                &["function"],
            )?,
            connections_open: gauge(
                "wasmgate_connections_open",
                "Client connections being served now.",
            )?,
            connections_refused: counter_vec(
                "wasmgate_connections_refused_total",
                "Client connections closed unserved: over http.max_connections (limit) or no request head within http.header_read_timeout (header_timeout).",
                &["reason"],
            )?,
            connections_closed: counter_vec(
                "wasmgate_connections_closed_total",
                "Served client connections that ended, by reason: client_closed, idle, max_age, drained, write_timeout, control_frame_flood, request_framing, protocol_error.",
                &["reason"],
            )?,
            http2_streams_reset: counter_vec(
                "wasmgate_http2_streams_reset_total",
                "HTTP/2 response streams the gateway reset: its guest failed or was stopped (guest_failed), the client's window stayed shut for http.write_timeout (write_timeout), the body failed (body_error), the body was longer or shorter than its content-length (length_mismatch).",
                &["reason"],
            )?,
            schedule_fires: counter_vec(
                "wasmgate_schedule_fires_total",
                "Schedule slots this node claimed, by function and outcome: delivered (the guest handled it), failed (the guest refused, trapped or timed out), skipped (fell due while the gateway was down, with schedules.catch_up = false).",
                &["function", "outcome"],
            )?,
            health_checks: counter_vec(
                "wasmgate_health_checks_total",
                "Host-run health checks ([health] in the manifest), by function, stage (deploy: before a new version takes traffic; traffic: before a rollback or split makes a kept version live; canary: while a canary runs) and outcome (passed, failed).",
                &["function", "stage", "outcome"],
            )?,
            canaries: counter_vec(
                "wasmgate_canaries_total",
                "Canaries ended, by function and outcome: promoted (to all traffic), rolled_back (by its window's numbers or failed health checks), superseded (an admin changed the traffic first), failed (the verdict could not be applied).",
                &["function", "outcome"],
            )?,
            guest_limits: counter_vec(
                "wasmgate_guest_limits_total",
                "Calls stopped or refused at a per-call limit, by function and limit (response_body, messages_per_call, open_buckets).",
                &["function", "limit"],
            )?,
            auth_failures: counter_vec(
                "wasmgate_auth_failures_total",
                "Requests refused for a missing or wrong bearer token, by audience (admin, metrics, invoke).",
                &["audience"],
            )?,
            egress_refused: counter_vec(
                "wasmgate_egress_refused_total",
                "Outgoing connections of guests refused by the egress guard, by function and reason (not_granted: the signature grants no network access of this kind; host_not_granted: not in the grant's host list; address_denied: a loopback, private, link-local or other special address the operator did not open).",
                &["function", "reason"],
            )?,
            oci_pulls: counter_vec(
                "wasmgate_oci_pulls_total",
                "Pulls of components from OCI registries for deploys that name an oci:// reference, by outcome: pulled, or the error code that refused it (registry_unreachable, registry_denied, artifact_not_found, not_a_wasm_artifact, digest_mismatch, registry_address_refused, ...).",
                &["outcome"],
            )?,
            quota_refusals: counter_vec(
                "wasmgate_quota_refusals_total",
                "Deploys, publishes and guest writes refused at a quota, by its key under [quotas] (max_functions, max_stored_bytes, max_kv_bytes, max_backlog_messages, max_backlog_bytes).",
                &["quota"],
            )?,
            quota_used: gauge_vec(
                "wasmgate_quota_used",
                "What the node uses of its node-wide quotas: functions deployed (max_functions), bytes of stored blobs they use, each once (max_stored_bytes).",
                &["quota"],
            )?,
            quota_limit: gauge_vec(
                "wasmgate_quota_limit",
                "Each quota in force, by its key under [quotas]: a count or bytes.",
                &["quota"],
            )?,
            scrape: Mutex::new(()),
            registry,
        };
        metrics
            .memory_budget_bytes
            .set(i64::try_from(budget).unwrap_or(i64::MAX));
        Ok(metrics)
    }

    /// The registry every family is in, for families registered elsewhere (cluster mode's).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Sets `wasmgate_quota_limit` from the quotas in force, and starts every refusal count at 0.
    pub fn set_quotas(&self, settings: &wasmgate_config::QuotaSettings) {
        for quota in Quota::ALL {
            self.quota_limit
                .with_label_values(&[quota.key()])
                .set(i64::try_from(quota.limit(settings)).unwrap_or(i64::MAX));
            self.quota_refusals.with_label_values(&[quota.key()]);
        }
    }

    /// Counts one refusal at `quota`.
    pub fn quota_refused(&self, quota: Quota) {
        self.quota_refusals.with_label_values(&[quota.key()]).inc();
    }

    /// Counts a publish refused at a subscriber's backlog quota (any other failure is not a
    /// quota's).
    pub fn bus_refused(&self, error: &wasmgate_capabilities::messaging::Error) {
        if let wasmgate_capabilities::messaging::Error::BacklogFull { quota, .. } = error {
            let quota = match *quota {
                "max_backlog_bytes" => Quota::BacklogBytes,
                _ => Quota::BacklogMessages,
            };
            self.quota_refused(quota);
        }
    }

    /// Counts one cold start of `function` that took `took`.
    pub fn cold_start(&self, function: &str, took: std::time::Duration) {
        self.cold_starts.with_label_values(&[function]).inc();
        self.cold_start_duration
            .with_label_values(&[function])
            .observe(took.as_secs_f64());
    }

    /// Removes every series of `function` (after a delete).
    pub fn forget(&self, function: &str) {
        let _ = self.cold_starts.remove_label_values(&[function]);
        let _ = self.cold_start_duration.remove_label_values(&[function]);
        let _ = self.request_duration.remove_label_values(&[function]);
        let _ = self.instances.remove_label_values(&[function]);
        let _ = self.instances_kept.remove_label_values(&[function]);
        let _ = self.instance_reuses.remove_label_values(&[function]);
        let _ = self.memory_seconds.remove_label_values(&[function]);
        let _ = self.memory_busy_seconds.remove_label_values(&[function]);
        let _ = self.guest_cpu_seconds.remove_label_values(&[function]);
        let _ = self.guest_log_dropped.remove_label_values(&[function]);
        let _ = self.guest_cpu_slices.remove_label_values(&[function]);
        let _ = self.guest_cpu_waits.remove_label_values(&[function]);
        for outcome in SCHEDULE_OUTCOMES {
            let _ = self
                .schedule_fires
                .remove_label_values(&[function, outcome]);
        }
        for stage in HEALTH_STAGES {
            for outcome in HEALTH_OUTCOMES {
                let _ = self
                    .health_checks
                    .remove_label_values(&[function, stage, outcome]);
            }
        }
        for outcome in CANARY_OUTCOMES {
            let _ = self.canaries.remove_label_values(&[function, outcome]);
        }
        for limit in GUEST_LIMITS {
            let _ = self.guest_limits.remove_label_values(&[function, limit]);
        }
        for reason in Refusal::REASONS {
            let _ = self.egress_refused.remove_label_values(&[function, reason]);
        }
        // Removal needs every label value: find this function's statuses in the gathered series.
        for family in self.registry.gather() {
            if family.name() != "wasmgate_requests_total" {
                continue;
            }
            for metric in family.get_metric() {
                let labels: Vec<(&str, &str)> = metric
                    .get_label()
                    .iter()
                    .map(|l| (l.name(), l.value()))
                    .collect();
                if labels.contains(&("function", function))
                    && let Some((_, status)) = labels.iter().find(|(n, _)| *n == "status")
                {
                    let _ = self.requests.remove_label_values(&[function, status]);
                }
            }
        }
    }
}
