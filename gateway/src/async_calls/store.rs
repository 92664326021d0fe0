//! The durable tables of async calls (`calls.redb` in the data dir).
//!
//! A call lives in up to five tables, so that no reader touches more than it needs:
//!
//! | table | key | value |
//! |---|---|---|
//! | `call_meta` | id | [`CallMeta`], compact (postcard) |
//! | `call_bodies` | (id, chunk) | request body bytes, until the call finishes ([`blob`]) |
//! | `call_results` | (id, chunk) | result body bytes, once it finished ([`blob`]) |
//! | `calls_queued` | id | (accepted at in µs, function): the calls to resume after a restart |
//! | `calls_expiry` | (finished at in s, id) | nothing: the sweep reads only what expires |
//!
//! Every method here blocks on the disk (a write fsyncs before it returns); callers run them
//! through [`CallStore::off_runtime`], never on the async runtime's threads.

use super::blob::{self, BlobTable};
use super::legacy;
use super::record::{CallMeta, CallRecord, CallState};
use crate::error::ApiError;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::PathBuf;
use std::sync::Arc;
use wasmgate_capabilities::private_files;

pub(super) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("call_meta");
pub(super) const BODIES: BlobTable = TableDefinition::new("call_bodies");
pub(super) const RESULTS: BlobTable = TableDefinition::new("call_results");
pub(super) const QUEUED: TableDefinition<&str, (u64, &str)> = TableDefinition::new("calls_queued");
pub(super) const EXPIRY: TableDefinition<(u64, &str), ()> = TableDefinition::new("calls_expiry");

/// Finished calls deleted per write transaction by the sweep: small enough that an accept
/// waiting for the write lock waits milliseconds, large enough that a backlog of a million
/// results clears in a few thousand commits.
const EXPIRY_BATCH: usize = 512;

/// Async calls by id; every write is committed (fsynced) before it returns.
#[derive(Clone)]
pub struct CallStore {
    db: Arc<Database>,
    /// Reads of whole calls (`GET /calls/{id}`) running at once; see [`reads_at_once`].
    readers: Arc<tokio::sync::Semaphore>,
}

/// Whole-call reads run at once: half the cores, at least one. A read copies and renders a
/// result of up to `async_calls.max_result` on a blocking thread; twelve at once on a 2-core
/// node took the CPU from the runtime threads (`scripts/bench-async-reads 1 12`: `/healthz` p50
/// / p99 18 / 87ms during the reads; one at a time: 0.6 / 8.3ms, at 26 instead of 34 reads/s).
/// Further reads wait their turn without holding a thread.
fn reads_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2))
}

impl CallStore {
    /// Opens or creates the tables at `path`, converting calls stored by an older gateway (see
    /// `legacy`); on a blocking thread.
    pub async fn open(path: PathBuf) -> Result<Self, ApiError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(storage)?
    }

    pub(super) fn open_blocking(path: &std::path::Path) -> Result<Self, ApiError> {
        private_files::create_file(path)
            .map_err(|e| storage(format!("{}: {e}", path.display())))?;
        let db = Database::create(path).map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(META).map_err(storage)?;
        txn.open_table(BODIES).map_err(storage)?;
        txn.open_table(RESULTS).map_err(storage)?;
        txn.open_table(QUEUED).map_err(storage)?;
        txn.open_table(EXPIRY).map_err(storage)?;
        legacy::migrate(&txn)?;
        txn.commit().map_err(storage)?;
        Ok(CallStore {
            db: Arc::new(db),
            readers: Arc::new(tokio::sync::Semaphore::new(reads_at_once())),
        })
    }

    /// Runs `work` on a blocking thread, off the async runtime: every read and write of the
    /// store waits on the disk.
    pub async fn off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&CallStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(storage)?
    }

    /// [`off_runtime`](Self::off_runtime) for reads of whole calls, at most `reads_at_once`
    /// at a time.
    pub async fn read_off_runtime<T: Send + 'static>(
        &self,
        work: impl FnOnce(&CallStore) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let _turn = self.readers.acquire().await.map_err(storage)?;
        self.off_runtime(work).await
    }

    /// Stores a newly accepted call: its metadata, its body and its place in the queue, in one
    /// commit.
    pub(super) fn insert(
        &self,
        id: &str,
        meta: &CallMeta,
        body: &[u8],
        accepted_micros: u64,
    ) -> Result<(), ApiError> {
        let encoded = meta.encode()?;
        let txn = self.db.begin_write().map_err(storage)?;
        {
            txn.open_table(META)
                .map_err(storage)?
                .insert(id, encoded.as_slice())
                .map_err(storage)?;
            blob::put(&mut txn.open_table(BODIES).map_err(storage)?, id, body)?;
            txn.open_table(QUEUED)
                .map_err(storage)?
                .insert(id, (accepted_micros, meta.function.as_str()))
                .map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }

    /// A queued call's metadata and request body, to run it; `None` when it is gone or no
    /// longer queued.
    pub(super) fn pending(&self, id: &str) -> Result<Option<(CallMeta, Bytes)>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let Some(meta) = read_meta(&txn, id)? else {
            return Ok(None);
        };
        if meta.state != CallState::Queued {
            return Ok(None);
        }
        let body = blob::get(&txn.open_table(BODIES).map_err(storage)?, id)?;
        Ok(Some((meta, body)))
    }

    /// Records a finished call in one commit: its metadata and result body in, its request
    /// body and queue entry out, and an expiry entry at `meta.finished_at`.
    pub(super) fn finish(
        &self,
        id: &str,
        meta: &CallMeta,
        result_body: &[u8],
    ) -> Result<(), ApiError> {
        let encoded = meta.encode()?;
        let finished_at = meta.finished_at.unwrap_or(0);
        let txn = self.db.begin_write().map_err(storage)?;
        {
            txn.open_table(META)
                .map_err(storage)?
                .insert(id, encoded.as_slice())
                .map_err(storage)?;
            let mut results = txn.open_table(RESULTS).map_err(storage)?;
            blob::remove(&mut results, id)?;
            blob::put(&mut results, id, result_body)?;
            blob::remove(&mut txn.open_table(BODIES).map_err(storage)?, id)?;
            txn.open_table(QUEUED)
                .map_err(storage)?
                .remove(id)
                .map_err(storage)?;
            txn.open_table(EXPIRY)
                .map_err(storage)?
                .insert((finished_at, id), ())
                .map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }

    /// The call with `id` and its result, if `may_read` allows it given the metadata; a call
    /// it refuses is `None`, like a missing one, and its result is never read.
    pub(super) fn read(
        &self,
        id: &str,
        may_read: impl FnOnce(&CallMeta) -> bool,
    ) -> Result<Option<CallRecord>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let Some(meta) = read_meta(&txn, id)? else {
            return Ok(None);
        };
        if !may_read(&meta) {
            return Ok(None);
        }
        let result_body = match meta.state {
            CallState::Queued => None,
            CallState::Done | CallState::Failed => {
                Some(blob::get(&txn.open_table(RESULTS).map_err(storage)?, id)?)
            }
        };
        Ok(Some(CallRecord {
            id: id.to_owned(),
            meta,
            result_body,
        }))
    }

    /// Every call still queued as `(id, function)`, in the order they were accepted, to resume
    /// after a restart; reads the queue index only.
    pub(super) fn queued(&self) -> Result<Vec<(String, String)>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(QUEUED).map_err(storage)?;
        let mut calls = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (id, value) = row.map_err(storage)?;
            let (accepted, function) = value.value();
            calls.push((accepted, id.value().to_owned(), function.to_owned()));
        }
        calls.sort();
        Ok(calls
            .into_iter()
            .map(|(_, id, function)| (id, function))
            .collect())
    }

    /// Deletes every call that finished before `cutoff` (Unix seconds), [`EXPIRY_BATCH`] per
    /// commit; returns how many.
    pub(super) fn expire(&self, cutoff: u64) -> Result<usize, ApiError> {
        let mut total = 0;
        loop {
            let removed = self.expire_batch(cutoff, EXPIRY_BATCH)?;
            total += removed;
            if removed < EXPIRY_BATCH {
                return Ok(total);
            }
        }
    }

    /// Deletes at most `limit` calls that finished before `cutoff`, oldest first, reading only
    /// their expiry entries; commits nothing when none is due.
    pub(super) fn expire_batch(&self, cutoff: u64, limit: usize) -> Result<usize, ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let due: Vec<(u64, String)> = {
            let expiry = txn.open_table(EXPIRY).map_err(storage)?;
            let mut due = Vec::new();
            for row in expiry.range(..(cutoff, "")).map_err(storage)?.take(limit) {
                let (key, _) = row.map_err(storage)?;
                let (finished_at, id) = key.value();
                due.push((finished_at, id.to_owned()));
            }
            due
        };
        if due.is_empty() {
            txn.abort().map_err(storage)?;
            return Ok(0);
        }
        {
            let mut expiry = txn.open_table(EXPIRY).map_err(storage)?;
            let mut meta = txn.open_table(META).map_err(storage)?;
            let mut results = txn.open_table(RESULTS).map_err(storage)?;
            let mut bodies = txn.open_table(BODIES).map_err(storage)?;
            for (finished_at, id) in &due {
                expiry
                    .remove((*finished_at, id.as_str()))
                    .map_err(storage)?;
                meta.remove(id.as_str()).map_err(storage)?;
                blob::remove(&mut results, id)?;
                blob::remove(&mut bodies, id)?;
            }
        }
        txn.commit().map_err(storage)?;
        Ok(due.len())
    }
}

fn read_meta(txn: &redb::ReadTransaction, id: &str) -> Result<Option<CallMeta>, ApiError> {
    let table = txn.open_table(META).map_err(storage)?;
    let Some(value) = table.get(id).map_err(storage)? else {
        return Ok(None);
    };
    CallMeta::decode(value.value()).map(Some)
}

pub(super) fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: format!("async calls: {e}"),
    }
}

#[cfg(test)]
mod tests;
