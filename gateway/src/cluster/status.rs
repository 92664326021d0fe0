//! `GET /cluster` (admin): this node's view of the cluster.
//!
//! ```json
//! {"node": "wasmgate-0", "connected": true, "nodes_needed": 1, "nodes_for_calls": 1,
//!  "nodes_for_memory": 1,
//!  "members": [{"id": "wasmgate-0", "advertise": "http://…", "state": "ready", "load": 0.4,
//!               "memory_demand": 52428800, "memory_budget": 4294967296,
//!               "version": "0.1.0", "homes": ["hello"]}],
//!  "calls": {"forwarded_out": 12, "forwarded_in": 3, "home": 40, "fallback": 0, "local": 1}}
//! ```
//! `homes` are the deployed functions whose home that member is in this node's view now;
//! `memory_demand` is what its keep-alive policy wants resident of the functions it is home for
//! (bytes, as of its last heartbeat), `nodes_for_memory` their sum over the smallest budget.

use super::{CallPath, ClusterNode};
use crate::error::ApiError;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use http::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Path of the endpoint.
pub const PATH: &str = "/cluster";

/// Serves `/cluster` (admin, already authorized): `GET` only; on a node that runs alone, 404
/// with what to set.
pub fn handle(
    gw: &Gateway,
    req: &http::Request<crate::incoming::Incoming>,
) -> Result<GatewayResponse, ApiError> {
    if req.method() != http::Method::GET {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
        });
    }
    match &gw.cluster {
        Some(node) => status(gw, node),
        None => Err(ApiError::NotClustered),
    }
}

/// This node's view of the cluster as JSON.
pub fn status(gw: &Gateway, node: &ClusterNode) -> Result<GatewayResponse, ApiError> {
    let view = node.view();
    let members: Vec<_> = view.iter().map(|n| n.member()).collect();
    let mut homes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for deployed in gw.catalog.snapshot().sorted() {
        let name = &deployed.record.name;
        if let Some(home) = node.placement.home(name, &members) {
            homes.entry(home.id.clone()).or_default().push(name.clone());
        }
    }
    let listed: Vec<Value> = view
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "advertise": n.advertise,
                "state": n.state,
                "load": n.load,
                "memory_demand": n.memory_demand,
                "memory_budget": n.memory_budget,
                "version": n.version,
                "homes": homes.get(&n.id).cloned().unwrap_or_default(),
            })
        })
        .collect();
    let mut calls = Map::new();
    for path in CallPath::ALL {
        calls.insert(
            path.label().to_owned(),
            json!(node.metrics.calls.with_label_values(&[path.label()]).get()),
        );
    }
    Ok(json(
        StatusCode::OK,
        &json!({
            "node": node.id,
            "connected": node.cluster.connected(),
            "draining": node.is_draining(),
            "nodes_needed": node.placement.nodes_needed(&members),
            "nodes_for_calls": node.placement.nodes_for_calls(&members),
            "nodes_for_memory": wasmgate_policy::Placement::nodes_for_memory(&members),
            "balance_factor": node.placement.balance_factor,
            "node_capacity": node.placement.node_capacity,
            "members": listed,
            "calls": calls,
        }),
    ))
}
