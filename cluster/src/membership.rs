//! Membership: KV bucket `wg_nodes`, one entry `node.<id>` per node, rewritten every heartbeat
//! and expiring after [`MISSED_HEARTBEATS`](ClusterOptions::missed_heartbeats) of them.
//!
//! Each node follows the bucket ([`Members::follow`]) and keeps when it last heard from each
//! node on its own clock: NATS 2.9 sends no event when an entry expires, so a node that has not
//! been heard from for `missed_heartbeats × heartbeat` is gone from the view whether or not its
//! expiry was seen. A draining node stays in the view (so `/cluster` shows it) but is never a
//! home.

use crate::connection::{Cluster, ClusterOptions};
use crate::error::{Result, unavailable};
use async_nats::jetstream::kv::Operation;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmgate_policy::{Member, MemberState, Memory};

/// Key prefix of node entries.
const PREFIX: &str = "node.";

/// Wait before following the bucket again after the connection was lost.
const RETRY: Duration = Duration::from_millis(500);

/// Whether a node takes new work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Serving.
    Ready,
    /// Leaving after SIGTERM: finishes what it has, is home for nothing.
    Draining,
}

/// What a node publishes about itself every heartbeat (JSON in `node.<id>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeEntry {
    /// Its id.
    pub id: String,
    /// The URL peers forward calls to.
    pub advertise: String,
    /// Whether it takes work.
    pub state: NodeState,
    /// Calls in flight, averaged over the last heartbeat interval.
    pub load: f64,
    /// Bytes its keep-alive policy wants resident of the functions it is home for (0 from a
    /// node of an older version).
    #[serde(default)]
    pub memory_demand: u64,
    /// Its byte budget for resident functions (`[pool] code_budget`; 0: not reported).
    #[serde(default)]
    pub memory_budget: u64,
    /// The wasmgate version it runs.
    pub version: String,
}

impl NodeEntry {
    /// The node as the placement rule sees it.
    pub fn member(&self) -> Member {
        Member {
            id: self.id.clone(),
            load: self.load,
            state: match self.state {
                NodeState::Ready => MemberState::Ready,
                NodeState::Draining => MemberState::Draining,
            },
            memory: Memory {
                demand: self.memory_demand,
                budget: self.memory_budget,
            },
        }
    }
}

impl Cluster {
    /// Writes this node's entry (its heartbeat).
    pub async fn heartbeat(&self, entry: &NodeEntry) -> Result<()> {
        let bucket = self.nodes_bucket().await?;
        let value =
            serde_json::to_vec(entry).map_err(|e| unavailable("encoding a heartbeat", e))?;
        bucket
            .put(format!("{PREFIX}{}", entry.id), value.into())
            .await
            .map(|_| ())
            .map_err(|e| unavailable("writing a heartbeat", e))
    }

    /// Removes this node's entry (the last step of a drain).
    pub async fn leave(&self, id: &str) -> Result<()> {
        let bucket = self.nodes_bucket().await?;
        bucket
            .delete(format!("{PREFIX}{id}"))
            .await
            .map_err(|e| unavailable("leaving the cluster", e))
    }
}

/// A node's view of the cluster's members, by id, with when each was last heard from.
#[derive(Default, Clone)]
pub struct Members {
    seen: Arc<Mutex<BTreeMap<String, (NodeEntry, Instant)>>>,
}

impl Members {
    /// Records `entry` as heard from at `now`.
    pub fn heard(&self, entry: NodeEntry, now: Instant) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.insert(entry.id.clone(), (entry, now));
        }
    }

    /// Forgets node `id` (it left).
    pub fn left(&self, id: &str) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.remove(id);
        }
    }

    /// The members heard from within `horizon` before `now`, in id order.
    pub fn live(&self, now: Instant, horizon: Duration) -> Vec<NodeEntry> {
        let Ok(seen) = self.seen.lock() else {
            return Vec::new();
        };
        seen.values()
            .filter(|(_, at)| now.saturating_duration_since(*at) <= horizon)
            .map(|(entry, _)| entry.clone())
            .collect()
    }

    /// Follows `cluster`'s membership bucket until the task is dropped, reconnecting after
    /// errors; call [`Members::live`] for the current view.
    pub async fn follow(self, cluster: Arc<Cluster>) {
        loop {
            if let Err(e) = self.follow_once(&cluster).await {
                tracing::debug!(error = %e, "membership watch ended; following again");
            }
            tokio::time::sleep(RETRY).await;
        }
    }

    async fn follow_once(&self, cluster: &Cluster) -> Result<()> {
        let bucket = cluster.nodes_bucket().await?;
        let mut watch = bucket
            .watch_with_history(format!("{PREFIX}>"))
            .await
            .map_err(|e| unavailable("watching members", e))?;
        while let Some(entry) = watch.next().await {
            let entry = entry.map_err(|e| unavailable("watching members", e))?;
            let Some(id) = entry.key.strip_prefix(PREFIX) else {
                continue;
            };
            match entry.operation {
                Operation::Put => match serde_json::from_slice::<NodeEntry>(&entry.value) {
                    Ok(node) if node.id == id => self.heard(node, Instant::now()),
                    Ok(_) | Err(_) => {
                        tracing::warn!(key = %entry.key, "ignoring a malformed member entry")
                    }
                },
                Operation::Delete | Operation::Purge => self.left(id),
            }
        }
        Ok(())
    }
}

impl ClusterOptions {
    /// How long a node may stay silent before it counts as gone.
    pub fn horizon(&self) -> Duration {
        self.heartbeat * self.missed_heartbeats.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, load: f64) -> NodeEntry {
        NodeEntry {
            id: id.into(),
            advertise: format!("http://{id}:8080"),
            state: NodeState::Ready,
            load,
            memory_demand: 0,
            memory_budget: 0,
            version: "0".into(),
        }
    }

    #[test]
    fn a_heartbeat_of_a_node_that_reports_no_memory_reads_as_zero() {
        let older = r#"{"id": "a", "advertise": "http://a:8080", "state": "ready", "load": 1.5,
            "version": "0.0.9"}"#;
        let entry: NodeEntry = serde_json::from_str(older).unwrap();
        assert_eq!((entry.memory_demand, entry.memory_budget), (0, 0));
        assert_eq!(entry.member().memory, Memory::default());
    }

    #[test]
    fn a_node_not_heard_from_within_the_horizon_is_gone_and_a_leave_removes_it_at_once() {
        let members = Members::default();
        let t0 = Instant::now();
        members.heard(node("a", 1.0), t0);
        members.heard(node("b", 2.0), t0 + Duration::from_secs(2));
        let horizon = Duration::from_secs(3);
        let ids = |at| {
            members
                .live(at, horizon)
                .into_iter()
                .map(|n| n.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(t0 + Duration::from_secs(3)), ["a", "b"]);
        assert_eq!(ids(t0 + Duration::from_secs(4)), ["b"]);
        members.left("b");
        assert!(ids(t0 + Duration::from_secs(2)).iter().all(|id| id != "b"));
    }

    #[test]
    fn entries_round_trip_as_json_and_map_to_placement_members() {
        let mut entry = node("wasmgate-1", 3.5);
        entry.state = NodeState::Draining;
        let json = serde_json::to_string(&entry).unwrap();
        assert!(json.contains("\"state\":\"draining\""), "{json}");
        let back: NodeEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entry);
        assert_eq!(back.member().state, MemberState::Draining);
        assert_eq!(back.member().load, 3.5);
    }
}
