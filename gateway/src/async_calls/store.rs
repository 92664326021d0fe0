//! The durable table of async calls (`calls.redb` in the data dir).

use super::record::{CallRecord, CallState};
use crate::error::ApiError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;
use wasmgate_capabilities::private_files;

const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new("calls");

/// Async calls by id; every write is committed (fsynced) before it returns.
#[derive(Clone)]
pub struct CallStore {
    db: Arc<Database>,
}

impl CallStore {
    /// Opens or creates the table at `path`.
    pub fn open(path: &Path) -> Result<Self, ApiError> {
        private_files::create_file(path)
            .map_err(|e| storage(format!("{}: {e}", path.display())))?;
        let db = Database::create(path).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(CALLS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(CallStore { db: Arc::new(db) })
    }

    /// Writes `call` durably (on a blocking thread: it fsyncs).
    pub async fn put(&self, call: &CallRecord) -> Result<(), ApiError> {
        let json = serde_json::to_vec(call).map_err(storage)?;
        let (db, id) = (self.db.clone(), call.id.clone());
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write().map_err(storage)?;
            {
                let mut table = txn.open_table(CALLS).map_err(storage)?;
                table
                    .insert(id.as_str(), json.as_slice())
                    .map_err(storage)?;
            }
            txn.commit().map_err(storage)
        })
        .await
        .map_err(storage)?
    }

    /// The call with `id`.
    pub fn get(&self, id: &str) -> Result<Option<CallRecord>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(CALLS).map_err(storage)?;
        let Some(value) = table.get(id).map_err(storage)? else {
            return Ok(None);
        };
        Ok(Some(
            serde_json::from_slice(value.value()).map_err(storage)?,
        ))
    }

    /// Every call still queued (to resume after a restart).
    pub fn queued(&self) -> Result<Vec<CallRecord>, ApiError> {
        self.matching(|c| c.state == CallState::Queued)
    }

    /// Deletes finished calls older than `cutoff` (Unix seconds); returns how many.
    pub fn expire(&self, cutoff: u64) -> Result<usize, ApiError> {
        let old = self.matching(|c| c.finished_at.is_some_and(|f| f < cutoff))?;
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(CALLS).map_err(storage)?;
            for call in &old {
                table.remove(call.id.as_str()).map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)?;
        Ok(old.len())
    }

    fn matching(&self, keep: impl Fn(&CallRecord) -> bool) -> Result<Vec<CallRecord>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(CALLS).map_err(storage)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            let call: CallRecord = serde_json::from_slice(value.value()).map_err(storage)?;
            if keep(&call) {
                out.push(call);
            }
        }
        Ok(out)
    }
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: format!("async calls: {e}"),
    }
}
