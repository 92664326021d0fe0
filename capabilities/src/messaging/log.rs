//! The embedded bus's durable log: accepted, not yet acknowledged messages in a redb table.
//!
//! One writer thread owns the database and commits whatever appends and removals are queued
//! in a single transaction (group commit): concurrent publishers share one fsync instead of
//! paying one each, and nobody's await blocks the async runtime on disk I/O.

use super::backlog::message_size;
use super::bus::Message;
use super::error::{Error, Result};
use super::record;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// Unacknowledged messages by id; ids grow with every append.
const MESSAGES: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("messages");

/// The most operations committed together. Bounds the latency one large batch adds to the
/// publishers waiting on it; 256 small messages commit in well under the cost of an fsync.
const MAX_BATCH: usize = 256;

/// One change to the log and who waits for it to be durable.
enum Op {
    Append {
        id: u64,
        bytes: Vec<u8>,
        done: oneshot::Sender<Result<()>>,
    },
    Remove {
        id: u64,
        done: oneshot::Sender<Result<()>>,
    },
}

/// A handle on the writer thread; dropping it commits what is queued and closes the file.
pub(crate) struct Log {
    ops: Option<mpsc::Sender<Op>>,
    writer: Option<JoinHandle<()>>,
    /// For reading messages back; redb serves readers beside the one writer.
    db: Arc<Database>,
}

/// A message still in a reopened log, without its payload: what replaying it needs to know
/// before reading it back.
pub(crate) struct Logged {
    pub(crate) id: u64,
    pub(crate) subject: String,
    pub(crate) size: u64,
}

/// What a reopened log still holds: the messages to deliver again, and the next free id.
pub(crate) struct Recovered {
    pub(crate) messages: Vec<Logged>,
    pub(crate) next_id: u64,
}

impl Log {
    /// Opens (creating if needed) the log at `path` and lists what it holds: one message at a
    /// time is decoded and only its subject and size kept, so a large backlog is not loaded
    /// into memory (payloads are read back as subscribers make room, see [`Log::read`]).
    pub(crate) fn open(path: &Path) -> Result<(Log, Recovered)> {
        let db = Database::create(path).map_err(Error::storage)?;
        // Creating the table in a write transaction lets a fresh file be read like an old one.
        let txn = db.begin_write().map_err(Error::storage)?;
        txn.open_table(MESSAGES).map_err(Error::storage)?;
        txn.commit().map_err(Error::storage)?;

        let mut messages = Vec::new();
        let read = db.begin_read().map_err(Error::storage)?;
        let table = read.open_table(MESSAGES).map_err(Error::storage)?;
        for entry in table.iter().map_err(Error::storage)? {
            let (id, bytes) = entry.map_err(Error::storage)?;
            let id = id.value();
            let message = record::decode(id, bytes.value())?;
            messages.push(Logged {
                id,
                size: message_size(&message),
                subject: message.subject,
            });
        }
        drop(table);
        drop(read);
        let next_id = messages.last().map_or(0, |m| m.id + 1);

        let db = Arc::new(db);
        let (ops, rx) = mpsc::channel();
        let writer_db = db.clone();
        let writer = std::thread::Builder::new()
            .name("wasmgate-bus-log".into())
            .spawn(move || write_loop(&writer_db, rx))
            .map_err(|e| Error::Storage {
                message: format!("cannot start the log writer thread: {e}"),
            })?;
        let log = Log {
            ops: Some(ops),
            writer: Some(writer),
            db,
        };
        Ok((log, Recovered { messages, next_id }))
    }

    /// Stores `msg` under `id`; returns once it is committed to disk.
    pub(crate) async fn append(&self, id: u64, msg: &Message) -> Result<()> {
        let bytes = record::encode(msg);
        self.submit(|done| Op::Append { id, bytes, done }).await
    }

    /// Deletes message `id`; returns once the deletion is committed to disk.
    pub(crate) async fn remove(&self, id: u64) -> Result<()> {
        self.submit(|done| Op::Remove { id, done }).await
    }

    /// The logged messages `ids` (in that order), read on the blocking pool; an id no longer in
    /// the log (acknowledged meanwhile) is skipped.
    pub(crate) async fn read(&self, ids: Vec<u64>) -> Result<Vec<(u64, Message)>> {
        let db = self.db.clone();
        let read = move || -> Result<Vec<(u64, Message)>> {
            let txn = db.begin_read().map_err(Error::storage)?;
            let table = txn.open_table(MESSAGES).map_err(Error::storage)?;
            let mut out = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(bytes) = table.get(id).map_err(Error::storage)? {
                    out.push((id, record::decode(id, bytes.value())?));
                }
            }
            Ok(out)
        };
        tokio::task::spawn_blocking(read)
            .await
            .map_err(|e| Error::Storage {
                message: format!("log read task failed: {e}"),
            })?
    }

    async fn submit(&self, op: impl FnOnce(oneshot::Sender<Result<()>>) -> Op) -> Result<()> {
        let (done, wait) = oneshot::channel();
        let ops = self.ops.as_ref().ok_or(Error::Closed)?;
        ops.send(op(done)).map_err(|_| Error::Closed)?;
        wait.await.map_err(|_| Error::Closed)?
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        // Closing the channel ends the writer after it commits what is queued; joining it
        // releases the file, so the same process can reopen the bus right away.
        drop(self.ops.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The writer thread: commit queued operations in batches until every sender is gone.
fn write_loop(db: &Database, ops: mpsc::Receiver<Op>) {
    while let Ok(first) = ops.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match ops.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let outcome = commit(db, &batch);
        for op in batch {
            let (Op::Append { done, .. } | Op::Remove { done, .. }) = op;
            let answer = match &outcome {
                Ok(()) => Ok(()),
                Err(message) => Err(Error::Storage {
                    message: message.clone(),
                }),
            };
            // A waiter that gave up no longer needs the answer.
            let _ = done.send(answer);
        }
    }
}

/// Applies `batch` in one durable transaction.
fn commit(db: &Database, batch: &[Op]) -> std::result::Result<(), String> {
    let run = || -> std::result::Result<(), redb::Error> {
        let txn = db.begin_write()?;
        {
            let mut table = txn.open_table(MESSAGES)?;
            for op in batch {
                match op {
                    Op::Append { id, bytes, .. } => {
                        table.insert(id, bytes.as_slice())?;
                    }
                    Op::Remove { id, .. } => {
                        table.remove(id)?;
                    }
                }
            }
        }
        txn.commit()?;
        Ok(())
    };
    run().map_err(|e| e.to_string())
}
