//! Calls stored by gateways before the split tables: one JSON record per call in a table named
//! `calls` (bodies as arrays of numbers). At open, each is converted into the current tables
//! in the same transaction that drops the old table, so an upgrade loses no queued call and a
//! crash midway leaves the old table as it was.
//!
//! Converted calls have no caller secret (none was issued), so only the admin may read them;
//! their credential headers are dropped like a new call's. A record that does not parse is
//! skipped with a warning rather than keeping the gateway from starting.

use super::blob;
use super::http::is_credential;
use super::record::{CallMeta, CallState, ResultHead};
use super::store::{BODIES, EXPIRY, META, QUEUED, RESULTS, storage};
use crate::error::ApiError;
use redb::{ReadableTable, TableDefinition, TableHandle, WriteTransaction};
use serde::Deserialize;

/// The table older gateways kept calls in.
pub(super) const LEGACY: TableDefinition<&str, &[u8]> = TableDefinition::new("calls");

/// A call as older gateways stored it.
#[derive(Deserialize)]
struct OldCall {
    id: String,
    function: String,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    callback_url: Option<String>,
    state: CallState,
    attempts: u32,
    result: Option<OldResult>,
    created_at: u64,
    finished_at: Option<u64>,
}

/// A result as older gateways stored it (the body as lossy text).
#[derive(Deserialize)]
struct OldResult {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

/// Converts every call of the old table, if there is one, and deletes it; returns how many were
/// converted.
pub(super) fn migrate(txn: &WriteTransaction) -> Result<usize, ApiError> {
    let exists = txn
        .list_tables()
        .map_err(storage)?
        .any(|t| t.name() == LEGACY.name());
    if !exists {
        return Ok(0);
    }
    let (mut converted, mut skipped) = (0, 0);
    {
        let old = txn.open_table(LEGACY).map_err(storage)?;
        let mut meta = txn.open_table(META).map_err(storage)?;
        let mut bodies = txn.open_table(BODIES).map_err(storage)?;
        let mut results = txn.open_table(RESULTS).map_err(storage)?;
        let mut queued = txn.open_table(QUEUED).map_err(storage)?;
        let mut expiry = txn.open_table(EXPIRY).map_err(storage)?;
        for row in old.iter().map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            let Ok(call) = serde_json::from_slice::<OldCall>(value.value()) else {
                skipped += 1;
                continue;
            };
            let id = call.id.as_str();
            let record = CallMeta {
                function: call.function.clone(),
                method: call.method,
                path: call.path,
                headers: call
                    .headers
                    .into_iter()
                    .filter(|(name, _)| !is_credential(name))
                    .collect(),
                callback_url: call.callback_url,
                state: call.state,
                attempts: call.attempts,
                created_at: call.created_at,
                finished_at: call.finished_at.or(match call.state {
                    CallState::Queued => None,
                    CallState::Done | CallState::Failed => Some(call.created_at),
                }),
                result: call.result.as_ref().map(|r| ResultHead {
                    status: r.status,
                    headers: r.headers.clone(),
                }),
                token_hash: None,
            };
            meta.insert(id, record.encode()?.as_slice())
                .map_err(storage)?;
            match call.state {
                CallState::Queued => {
                    blob::put(&mut bodies, id, &call.body)?;
                    let accepted = call.created_at.saturating_mul(1_000_000);
                    queued
                        .insert(id, (accepted, call.function.as_str()))
                        .map_err(storage)?;
                }
                CallState::Done | CallState::Failed => {
                    let finished_at = call.finished_at.unwrap_or(call.created_at);
                    let body = call.result.map(|r| r.body).unwrap_or_default();
                    blob::put(&mut results, id, body.as_bytes())?;
                    expiry.insert((finished_at, id), ()).map_err(storage)?;
                }
            }
            converted += 1;
        }
    }
    txn.delete_table(LEGACY).map_err(storage)?;
    tracing::warn!(
        converted,
        skipped,
        "converted async calls stored by an older gateway; they have no caller secret, so only the admin can read them"
    );
    Ok(converted)
}
