//! Cluster mode in the gateway: this node's part in a cluster of identical gateways that share
//! their registry, originals and membership through NATS JetStream (`wasmgate-cluster`) and
//! place each function on a home node (`wasmgate-policy`).
//!
//! - [`ClusterNode`]: the node's identity, its view of the members, its load and its HTTP client
//!   to peers; [`start`] runs its heartbeat, follows the members and the registry;
//! - [`sync`]: records deployed on other nodes become local ones (original fetched, digest and
//!   signature re-verified, compiled here or loaded from a trusted node), deletes and CAS on
//!   deploy;
//! - [`artifacts`]: precompiled artifacts signed by node keys, shared through the object store
//!   and loaded only by nodes that trust the signing key and run the same engine;
//! - [`forward`]: a call that lands on a node that is not the function's home goes to the home
//!   once, over HTTP, authenticated by the cluster token;
//! - [`status`]: `GET /cluster`.

pub mod artifacts;
pub mod forward;
pub mod status;
pub mod sync;

use crate::state::Gateway;
use prometheus::{IntCounterVec, IntGauge, IntGaugeVec};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate_cluster::{Cluster, ClusterOptions, Members, NodeEntry, NodeState};
use wasmgate_config::Settings;
use wasmgate_policy::{Member, MemberState, Memory, Placement};

/// Header a forwarding node names itself in.
pub const FORWARDED_BY: &str = "wasmgate-forwarded-by";
/// Header carrying the cluster token on forwarded calls (never reaches a guest).
pub const CLUSTER_TOKEN: &str = "wasmgate-cluster-token";
/// Response header naming the node that ran the call.
pub const SERVED_BY: &str = "wasmgate-node";
/// Response header of a node that refuses a forwarded call it cannot serve (`down`: the function
/// is down there; `cluster_auth`: the forwarder's token is not this node's); the forwarding node
/// then serves the call itself.
pub const REFUSED: &str = "wasmgate-refused";

/// How long a draining node waits for NATS to take its last heartbeat and its leave, so a node
/// that lost NATS still exits within its termination grace period.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a peer that refused a connection is skipped as a home.
const UNREACHABLE_FOR: Duration = Duration::from_secs(3);

/// Load samples taken per heartbeat, averaged into the load the heartbeat reports.
const SAMPLES_PER_HEARTBEAT: u32 = 10;

/// How long start-up waits for the first view of the shared registry before serving the local
/// one (NATS down: the node serves its last view and catches up).
const FIRST_SYNC_WAIT: Duration = Duration::from_secs(5);

/// Cluster-mode metric families.
pub struct ClusterMetrics {
    /// `wasmgate_cluster_calls_total{path}`.
    pub calls: IntCounterVec,
    /// `wasmgate_cluster_members{state}`.
    pub members: IntGaugeVec,
    /// `wasmgate_cluster_nodes_needed`.
    pub nodes_needed: IntGauge,
    /// `wasmgate_cluster_registry_applied_total{operation}`.
    pub applied: IntCounterVec,
    /// `wasmgate_cluster_connected`.
    pub connected: IntGauge,
    /// `wasmgate_cluster_async_calls_total{outcome}`.
    pub async_calls: IntCounterVec,
    /// `wasmgate_cluster_artifacts_total{outcome}`.
    pub artifacts: IntCounterVec,
}

/// Why a call was served where it was (`wasmgate_cluster_calls_total{path}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPath {
    /// Sent to its home on another node.
    ForwardedOut,
    /// Served here: a peer forwarded it (this node is its home).
    ForwardedIn,
    /// Served here: this node is its home.
    Home,
    /// Served here: its home did not answer.
    Fallback,
    /// Served here: no member is ready under its load cap, or the body is too large to forward.
    Local,
}

impl CallPath {
    /// Every path, for the metric's label values.
    pub const ALL: [CallPath; 5] = [
        CallPath::ForwardedOut,
        CallPath::ForwardedIn,
        CallPath::Home,
        CallPath::Fallback,
        CallPath::Local,
    ];

    /// The label value.
    pub fn label(self) -> &'static str {
        match self {
            CallPath::ForwardedOut => "forwarded_out",
            CallPath::ForwardedIn => "forwarded_in",
            CallPath::Home => "home",
            CallPath::Fallback => "fallback",
            CallPath::Local => "local",
        }
    }
}

/// The members as placement reads them on every call: rebuilt every tenth of a heartbeat and
/// when a peer turns out unreachable or this node starts draining, so a call only hashes.
#[derive(Default)]
struct View {
    /// Every live member, this node included.
    entries: Vec<NodeEntry>,
    /// The same as placement members (unreachable peers as draining).
    members: Vec<Member>,
}

/// This node's part in the cluster.
pub struct ClusterNode {
    /// The shared state on JetStream.
    pub cluster: Arc<Cluster>,
    /// This node's id.
    pub id: String,
    /// The URL peers reach this node on.
    pub advertise: String,
    /// The secret forwarded calls carry.
    token: String,
    /// The home rule.
    pub placement: Placement,
    members: Members,
    view: arc_swap::ArcSwap<View>,
    /// Calls running on this node now.
    in_flight: AtomicU64,
    /// The load the last heartbeat reported.
    load: Mutex<f64>,
    /// The keep-alive memory the last heartbeat reported (demand of the functions this node is
    /// home for, and its budget).
    memory: Mutex<Memory>,
    draining: AtomicBool,
    /// Peers that refused a connection, until when they are skipped.
    unreachable: Mutex<HashMap<String, Instant>>,
    /// HTTP client to peers.
    pub(crate) client: forward::PeerClient,
    /// Serialises applying records (own deploys and peers' alike).
    pub(crate) applying: tokio::sync::Mutex<()>,
    /// Bounds concurrent read-throughs (a burst of calls to unknown names).
    pub(crate) read_through: tokio::sync::Semaphore,
    /// Metric families.
    pub metrics: ClusterMetrics,
    /// Async calls this node is running from the cluster's queue.
    pub calls_running: tokio_util::task::TaskTracker,
    /// This node's node key and the node keys it trusts for shared artifacts.
    pub artifacts: artifacts::ArtifactSharing,
}

impl ClusterNode {
    /// Connects to the cluster's NATS (returns at once even if it is down) and registers the
    /// cluster metric families; `None` when the settings do not enable cluster mode.
    pub async fn open(
        settings: &Settings,
        registry: &prometheus::Registry,
    ) -> Result<Option<Arc<Self>>, crate::ApiError> {
        let c = &settings.cluster;
        let (Some(url), Some(id), Some(advertise)) = (&c.nats_url, &c.node_id, &c.advertise) else {
            return Ok(None);
        };
        let cluster = Cluster::connect(ClusterOptions {
            url: url.clone(),
            replicas: usize::from(c.replicas),
            heartbeat: c.heartbeat.get(),
            missed_heartbeats: wasmgate_config::MISSED_HEARTBEATS,
            calls: wasmgate_cluster::CallOptions {
                max_queued: settings.async_calls.max_queued,
                retention: settings.async_calls.retention.get(),
                ack_wait: c.ack_wait.get(),
            },
            credentials: nats_credentials(settings)?,
        })
        .await
        .map_err(|e| crate::ApiError::ClusterUnavailable {
            reason: e.to_string(),
        })?;
        let token = match (&c.token, &settings.admin_token) {
            (Some(token), _) => token.clone(),
            (None, Some(admin)) => derive_token(admin),
            // Settings validation refuses cluster mode without either.
            (None, None) => {
                return Err(crate::ApiError::Internal {
                    reason: "cluster mode without a shared token".into(),
                });
            }
        };
        Ok(Some(Arc::new(ClusterNode {
            cluster: Arc::new(cluster),
            id: id.clone(),
            advertise: advertise.trim_end_matches('/').to_owned(),
            token,
            placement: Placement {
                balance_factor: c.balance_factor,
                node_capacity: f64::from(c.node_capacity),
            },
            members: Members::default(),
            view: arc_swap::ArcSwap::default(),
            in_flight: AtomicU64::new(0),
            load: Mutex::new(0.0),
            memory: Mutex::new(Memory::default()),
            draining: AtomicBool::new(false),
            unreachable: Mutex::new(HashMap::new()),
            client: forward::PeerClient::new(),
            applying: tokio::sync::Mutex::new(()),
            read_through: tokio::sync::Semaphore::new(16),
            calls_running: tokio_util::task::TaskTracker::new(),
            artifacts: artifacts::ArtifactSharing::from_settings(c)?,
            metrics: ClusterMetrics::register(registry).map_err(|e| crate::ApiError::Internal {
                reason: format!("cluster metrics: {e}"),
            })?,
        })))
    }

    /// Whether `presented` is the cluster token (constant time).
    pub fn token_matches(&self, presented: &[u8]) -> bool {
        use subtle::ConstantTimeEq as _;
        presented.ct_eq(self.token.as_bytes()).into()
    }

    /// The cluster token, for forwarded calls.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The members as this node sees them now (as of the last refresh), itself included.
    pub fn view(&self) -> Vec<NodeEntry> {
        self.view.load().entries.clone()
    }

    /// Rebuilds the view from the members heard from within the horizon, this node included
    /// with its current state and load even when its own entry has not come back from NATS.
    fn refresh(&self) {
        let horizon = self.cluster.options().horizon();
        let mut entries = self.members.live(Instant::now(), horizon);
        let me = self.entry();
        match entries.iter_mut().find(|n| n.id == self.id) {
            Some(own) => *own = me,
            None => entries.push(me),
        }
        let members = self.placement_members(&entries);
        self.view.store(Arc::new(View { entries, members }));
    }

    /// This node's own entry as its next heartbeat writes it.
    pub fn entry(&self) -> NodeEntry {
        let memory = self.memory.lock().map_or(Memory::default(), |m| *m);
        NodeEntry {
            id: self.id.clone(),
            advertise: self.advertise.clone(),
            state: if self.draining.load(Ordering::Acquire) {
                NodeState::Draining
            } else {
                NodeState::Ready
            },
            load: self.load.lock().map_or(0.0, |l| *l),
            memory_demand: memory.demand,
            memory_budget: memory.budget,
            version: env!("CARGO_PKG_VERSION").to_owned(),
        }
    }

    /// The view as placement members: unreachable peers count as draining.
    fn placement_members(&self, view: &[NodeEntry]) -> Vec<Member> {
        let now = Instant::now();
        let unreachable = self
            .unreachable
            .lock()
            .map(|u| u.clone())
            .unwrap_or_default();
        view.iter()
            .map(|n| {
                let mut m = n.member();
                if unreachable.get(&n.id).is_some_and(|until| *until > now) {
                    m.state = MemberState::Draining;
                }
                m
            })
            .collect()
    }

    /// The node `function` should run on: `None` to run it here (this node is its home), else
    /// the peer's entry; `Err(CallPath::Local)` when no member is ready under its cap.
    pub fn home_elsewhere(&self, function: &str) -> Result<Option<NodeEntry>, CallPath> {
        let view = self.view.load();
        match self.placement.home(function, &view.members) {
            None => Err(CallPath::Local),
            Some(home) if home.id == self.id => Ok(None),
            Some(home) => Ok(view.entries.iter().find(|n| n.id == home.id).cloned()),
        }
    }

    /// Marks peer `id` unreachable for a few seconds (its connection was refused).
    pub(crate) fn unreachable(&self, id: &str) {
        if let Ok(mut u) = self.unreachable.lock() {
            u.insert(id.to_owned(), Instant::now() + UNREACHABLE_FOR);
        }
        self.refresh();
    }

    /// Counts a call by the path it took.
    pub fn count(&self, path: CallPath) {
        self.metrics.calls.with_label_values(&[path.label()]).inc();
    }

    /// Marks a call running here until the guard drops.
    pub fn running(self: &Arc<Self>) -> Running {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Running(self.clone())
    }

    /// Leaves the home set: peers stop sending work once they see the next heartbeat, written
    /// now.
    pub async fn start_draining(&self) {
        self.draining.store(true, Ordering::Release);
        self.refresh();
        match tokio::time::timeout(LEAVE_TIMEOUT, self.cluster.heartbeat(&self.entry())).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not announce the drain to the cluster"),
            Err(_) => tracing::warn!("could not announce the drain to the cluster in time"),
        }
    }

    /// Whether this node is draining.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Waits up to `grace` for the async calls this node is running (it pulls no new ones once
    /// draining), then removes its entry and closes the connection (the last step of a drain).
    /// A call still running when `grace` ends is not acknowledged: another node runs it.
    pub async fn leave(&self, grace: Duration) {
        self.calls_running.close();
        if tokio::time::timeout(grace, self.calls_running.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "async calls still running at the end of the grace period: other nodes run them again"
            );
        }
        match tokio::time::timeout(LEAVE_TIMEOUT, self.cluster.leave(&self.id)).await {
            Ok(Ok(())) => {}
            _ => tracing::warn!(
                "could not leave the cluster cleanly; peers drop this node when its entry expires"
            ),
        }
        let _ = tokio::time::timeout(LEAVE_TIMEOUT, self.cluster.close()).await;
    }
}

/// A call counted as running on this node (see [`ClusterNode::running`]).
pub struct Running(Arc<ClusterNode>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl ClusterMetrics {
    fn register(registry: &prometheus::Registry) -> Result<Self, prometheus::Error> {
        use prometheus::Opts;
        let calls = IntCounterVec::new(
            Opts::new(
                "wasmgate_cluster_calls_total",
                "Calls by the path they took in the cluster: forwarded_out (sent to the function's home on another node), forwarded_in (served here for a peer), home (served here, the home), fallback (served here, the home did not answer), local (served here, no home under its load cap, or a body too large to forward).",
            ),
            &["path"],
        )?;
        let members = IntGaugeVec::new(
            Opts::new(
                "wasmgate_cluster_members",
                "Cluster members this node sees, by state (ready, draining).",
            ),
            &["state"],
        )?;
        let nodes_needed = IntGauge::new(
            "wasmgate_cluster_nodes_needed",
            "Nodes the cluster's load needs: ceil(calls in flight cluster-wide / cluster.node_capacity), at least 1; the autoscaling signal.",
        )?;
        let applied = IntCounterVec::new(
            Opts::new(
                "wasmgate_cluster_registry_applied_total",
                "Registry changes made on other nodes and applied here, by operation (put, delete, down: applied but refused here).",
            ),
            &["operation"],
        )?;
        let connected = IntGauge::new(
            "wasmgate_cluster_connected",
            "1 while this node is connected to the cluster's NATS, else 0.",
        )?;
        let async_calls = IntCounterVec::new(
            Opts::new(
                "wasmgate_cluster_async_calls_total",
                "Async calls this node took from the cluster's queue, by outcome: run (first delivery), redelivered (run again: the node that had it stopped answering within cluster.ack_wait), duplicate (delivered again after its result was stored: not run), handed_back (this node was draining).",
            ),
            &["outcome"],
        )?;
        let artifacts = IntCounterVec::new(
            Opts::new(
                "wasmgate_cluster_artifacts_total",
                "Precompiled artifacts shared between nodes, by outcome: published (signed with cluster.node_key and stored), publish_failed, adopted (a trusted node's artifact loaded instead of compiling), absent (none stored for this engine and original), unavailable (the store could not be read), too_large (over 8 x max_module_size), and the refusals after which this node compiled itself: malformed, untrusted (key not in cluster.trusted_nodes), bad_signature, digest_mismatch, unloadable.",
            ),
            &["outcome"],
        )?;
        registry.register(Box::new(artifacts.clone()))?;
        for outcome in artifacts::OUTCOMES {
            artifacts.with_label_values(&[outcome]);
        }
        registry.register(Box::new(async_calls.clone()))?;
        for outcome in ["run", "redelivered", "duplicate", "handed_back"] {
            async_calls.with_label_values(&[outcome]);
        }
        registry.register(Box::new(calls.clone()))?;
        registry.register(Box::new(members.clone()))?;
        registry.register(Box::new(nodes_needed.clone()))?;
        registry.register(Box::new(applied.clone()))?;
        registry.register(Box::new(connected.clone()))?;
        for path in CallPath::ALL {
            calls.with_label_values(&[path.label()]);
        }
        for op in ["put", "delete", "down"] {
            applied.with_label_values(&[op]);
        }
        Ok(ClusterMetrics {
            calls,
            members,
            nodes_needed,
            applied,
            connected,
            async_calls,
            artifacts,
        })
    }

    /// Counts one `wasmgate_cluster_artifacts_total{outcome}`.
    pub fn count_artifact(&self, outcome: &str) {
        self.artifacts.with_label_values(&[outcome]).inc();
    }
}

/// The NATS user and password of `[cluster] nats_user` and `nats_password_env`, the password read
/// from that environment variable now; `None` when no user is set. Errors name the variable when
/// it is unset or empty.
pub fn nats_credentials(
    settings: &Settings,
) -> Result<Option<wasmgate_cluster::NatsCredentials>, crate::ApiError> {
    let c = &settings.cluster;
    let (Some(user), Some(var)) = (&c.nats_user, &c.nats_password_env) else {
        return Ok(None);
    };
    match std::env::var(var) {
        Ok(password) if !password.is_empty() => Ok(Some(wasmgate_cluster::NatsCredentials {
            user: user.clone(),
            password,
        })),
        _ => Err(crate::ApiError::Config(
            wasmgate_config::Error::InvalidSettings {
                reason: format!(
                    "cluster.nats_password_env names {var}, which is not set or empty: export the password of NATS user `{user}` in it"
                ),
            },
        )),
    }
}

/// The token a cluster derives from its shared admin token: SHA-256 over a domain-separation
/// label and the token, in hex, so the admin token itself never travels with forwarded calls.
fn derive_token(admin: &str) -> String {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    hash.update(b"wasmgate cluster token v1\0");
    hash.update(admin.as_bytes());
    hex_lower(&hash.finalize())
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a request was forwarded by a peer: it names the forwarding node and carries the
/// cluster token (both headers are removed, so no guest ever sees them). A request that names a
/// forwarding node without the token is refused with [`ApiError::ClusterAuth`](crate::ApiError).
pub fn forwarded_in(
    node: &ClusterNode,
    headers: &mut http::HeaderMap,
) -> Result<bool, crate::ApiError> {
    let token = headers.remove(CLUSTER_TOKEN);
    if headers.remove(FORWARDED_BY).is_none() {
        return Ok(false);
    }
    match token {
        Some(token) if node.token_matches(token.as_bytes()) => Ok(true),
        _ => Err(crate::ApiError::ClusterAuth),
    }
}

/// `error`'s response with [`REFUSED`] set to `reason`: a forwarding node that sees it serves the
/// call itself; any other client sees the error as it is.
pub fn refusal(error: crate::ApiError, reason: &'static str) -> crate::response::GatewayResponse {
    let mut response = error.into_response_for(None);
    response.headers_mut().insert(
        http::HeaderName::from_static(REFUSED),
        http::HeaderValue::from_static(reason),
    );
    response
}

/// Starts the node's background work: the first registry sync (waited for up to a few seconds),
/// then heartbeats, the members watch and the registry watch, for as long as the process runs.
pub async fn start(gw: &Arc<Gateway>, node: &Arc<ClusterNode>) {
    node.refresh();
    tokio::spawn(node.members.clone().follow(node.cluster.clone()));
    tokio::spawn(heartbeats(gw.clone(), node.clone()));
    tokio::spawn(crate::async_calls::cluster::pull(gw.clone(), node.clone()));
    let (synced_tx, synced_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(sync::follow(gw.clone(), node.clone(), synced_tx));
    match tokio::time::timeout(FIRST_SYNC_WAIT, synced_rx).await {
        Ok(Ok(())) => tracing::info!(node = %node.id, "joined the cluster: registry in sync"),
        _ => tracing::warn!(
            node = %node.id,
            "the cluster's registry did not answer at start: serving the local view, catching up in the background"
        ),
    }
}

/// Samples the load, writes the heartbeat (with the keep-alive memory demand of the functions
/// this node is home for) and updates the cluster gauges, forever.
async fn heartbeats(gw: Arc<Gateway>, node: Arc<ClusterNode>) {
    let heartbeat = node.cluster.options().heartbeat;
    let mut tick = tokio::time::interval(heartbeat / SAMPLES_PER_HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut sum, mut samples) = (0u64, 0u32);
    loop {
        tick.tick().await;
        node.refresh();
        sum += node.in_flight.load(Ordering::Relaxed);
        samples += 1;
        if samples < SAMPLES_PER_HEARTBEAT {
            continue;
        }
        if let Ok(mut load) = node.load.lock() {
            *load = sum as f64 / f64::from(samples);
        }
        let memory = {
            let view = node.view.load();
            gw.pool.keep_alive_memory(|function| {
                node.placement
                    .home(function, &view.members)
                    .is_none_or(|home| home.id == node.id)
            })
        };
        if let Ok(mut reported) = node.memory.lock() {
            *reported = memory;
        }
        (sum, samples) = (0, 0);
        if let Err(e) = node.cluster.heartbeat(&node.entry()).await {
            tracing::debug!(error = %e, "heartbeat not written");
        }
        let members = node.view.load().members.clone();
        let ready = members
            .iter()
            .filter(|m| m.state == MemberState::Ready)
            .count();
        node.metrics
            .members
            .with_label_values(&["ready"])
            .set(ready as i64);
        node.metrics
            .members
            .with_label_values(&["draining"])
            .set((members.len() - ready) as i64);
        node.metrics
            .nodes_needed
            .set(node.placement.nodes_needed(&members) as i64);
        node.metrics
            .connected
            .set(i64::from(node.cluster.connected()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_derived_token_is_stable_and_never_the_admin_token() {
        let admin = "admin-token-0123456789abcdefghijklmn";
        let derived = derive_token(admin);
        assert_eq!(derived, derive_token(admin));
        assert_eq!(derived.len(), 64);
        assert!(!derived.contains(admin));
        assert_ne!(
            derived,
            derive_token("another-admin-token-0123456789abcdef")
        );
    }
}
