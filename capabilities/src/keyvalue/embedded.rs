//! The default backend: one redb file in the data dir, every write its own durable transaction.

use crate::error::{Error, Result};
use crate::keyvalue::backend::{KeyPage, KvBackend, LIST_PAGE_SIZE, ListFrom};
use crate::keyvalue::counter;
use crate::keyvalue::quota::{admit, entry_size, namespace};
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, Table, TableDefinition, WriteTransaction};
use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

/// The file name of the key-value database inside the data dir.
pub const REDB_FILE_NAME: &str = "kv.redb";

/// Every entry of every bucket, keyed by `(bucket, key)`: a tuple key needs no escaping, and
/// a bucket's entries sit next to each other for range scans.
const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");

/// Bytes stored per [namespace](crate::keyvalue::namespace), changed in the same transaction as
/// the entries, so it is exact after any crash.
const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage");

/// Facts about the file itself; [`USAGE_COUNTED`] marks a file whose usage table is complete.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Set once the usage of entries written before the usage table existed has been counted.
const USAGE_COUNTED: &str = "usage_counted";

/// Key-value storage in a single redb file, durable on one machine.
///
/// Every write commits its own transaction with redb's default immediate durability, so it is
/// on disk (fsynced) before the call returns. redb runs one write transaction at a time, which
/// makes `increment` atomic. All database work runs on tokio's blocking pool.
///
/// Each namespace's usage lives in the same file and changes in the same transaction as its
/// entries; a write past the quota set by [`with_quota`](Self::with_quota) is rolled back.
#[derive(Clone)]
pub struct RedbBackend {
    db: Arc<Database>,
    quota: u64,
}

impl std::fmt::Debug for RedbBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbBackend").finish_non_exhaustive()
    }
}

impl RedbBackend {
    /// Opens the database at `path`, creating the file (`0600`, see [`crate::private_files`]) if needed.
    ///
    /// Blocks on file I/O; call it at startup, not on a request path.
    pub fn open(path: &Path) -> Result<Self> {
        let open_err = |source: redb::Error| Error::Open {
            path: path.to_owned(),
            source,
        };
        crate::private_files::create_file(path).map_err(|e| open_err(e.into()))?;
        let db = Database::create(path).map_err(|e| open_err(e.into()))?;
        // Creating the tables up front lets readers open them without a missing-table case.
        let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
        count_usage(&txn).map_err(open_err)?;
        txn.commit().map_err(|e| open_err(e.into()))?;
        Ok(RedbBackend {
            db: Arc::new(db),
            quota: u64::MAX,
        })
    }

    /// This backend with every namespace held to `bytes` of keys and values.
    pub fn with_quota(mut self, bytes: u64) -> Self {
        self.quota = bytes;
        self
    }

    /// Runs `work` against the database on the blocking pool.
    async fn blocking<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || work(&db)).await?
    }

    /// Runs `work` in one write transaction and commits it durably, with the usage of every
    /// namespace it changed; rolls everything back when one would pass the quota.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Writer<'_>) -> Result<T> + Send + 'static,
    {
        let quota = self.quota;
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let out = {
                let mut writer = Writer {
                    entries: txn.open_table(ENTRIES)?,
                    deltas: HashMap::new(),
                };
                let out = work(&mut writer);
                let out = out.and_then(|out| {
                    writer.settle(&mut txn.open_table(USAGE)?, quota)?;
                    Ok(out)
                });
                drop(writer);
                match out {
                    Ok(out) => out,
                    Err(e) => {
                        txn.abort()?;
                        return Err(e);
                    }
                }
            };
            txn.commit()?;
            Ok(out)
        })
        .await
    }

    /// Runs `work` against a read snapshot.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&redb::ReadOnlyTable<(&str, &str), &[u8]>) -> Result<T> + Send + 'static,
    {
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            work(&table)
        })
        .await
    }
}

#[async_trait]
impl KvBackend for RedbBackend {
    fn name(&self) -> &'static str {
        "redb"
    }

    /// One write transaction: the buckets go together or not at all.
    async fn purge(&self, prefix: &str) -> Result<u64> {
        super::backend::check_purge_prefix(prefix)?;
        let prefix = prefix.to_owned();
        self.write(move |table| {
            let mut doomed = Vec::new();
            for entry in table.entries.range((prefix.as_str(), "")..)? {
                let (k, _) = entry?;
                let (bucket, key) = k.value();
                if !bucket.starts_with(prefix.as_str()) {
                    break;
                }
                doomed.push((bucket.to_owned(), key.to_owned()));
            }
            // Through the writer, so the usage of each namespace falls with its entries.
            for (bucket, key) in &doomed {
                table.remove(bucket, key)?;
            }
            Ok(doomed.len() as u64)
        })
        .await
    }

    async fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |table| {
            Ok(table
                .get((bucket.as_str(), key.as_str()))?
                .map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn set(&self, bucket: &str, key: &str, value: Vec<u8>) -> Result<()> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |w| w.put(&bucket, &key, &value)).await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |w| w.remove(&bucket, &key)).await
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |table| Ok(table.get((bucket.as_str(), key.as_str()))?.is_some()))
            .await
    }

    /// Keys come in byte order, so a page goes on after the last key of the one before.
    async fn list_keys(&self, bucket: &str, from: ListFrom) -> Result<KeyPage> {
        let bucket = bucket.to_owned();
        let after = match from {
            ListFrom::Start => None,
            ListFrom::After(key) => Some(key),
            ListFrom::Scan { .. } => {
                return Err(Error::UnknownCursor {
                    reason: "a Redis cursor cannot go on in the embedded store",
                });
            }
        };
        self.read(move |table| {
            let start = match &after {
                None => Bound::Included((bucket.as_str(), "")),
                Some(key) => Bound::Excluded((bucket.as_str(), key.as_str())),
            };
            let mut keys = Vec::new();
            let mut more = false;
            for entry in table.range::<(&str, &str)>((start, Bound::Unbounded))? {
                let (k, _) = entry?;
                let (b, key) = k.value();
                if b != bucket {
                    break;
                }
                if keys.len() == LIST_PAGE_SIZE {
                    more = true;
                    break;
                }
                keys.push(key.to_owned());
            }
            let next = match keys.last() {
                Some(last) if more => Some(ListFrom::After(last.clone())),
                _ => None,
            };
            Ok(KeyPage { keys, next })
        })
        .await
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |w| {
            let current = match w.entries.get((bucket.as_str(), key.as_str()))? {
                None => 0,
                Some(value) => counter::parse(value.value())
                    .ok_or_else(|| Error::NotACounter { key: key.clone() })?,
            };
            let next = counter::add(&key, current, delta)?;
            w.put(&bucket, &key, &counter::format(next))?;
            Ok(next)
        })
        .await
    }

    async fn get_many(&self, bucket: &str, keys: &[String]) -> Result<Vec<Option<Vec<u8>>>> {
        let (bucket, keys) = (bucket.to_owned(), keys.to_vec());
        self.read(move |table| {
            keys.iter()
                .map(|key| {
                    Ok(table
                        .get((bucket.as_str(), key.as_str()))?
                        .map(|v| v.value().to_vec()))
                })
                .collect()
        })
        .await
    }

    /// All entries go in one transaction, so the batch is atomic here, more than the
    /// interface promises.
    async fn set_many(&self, bucket: &str, entries: Vec<(String, Vec<u8>)>) -> Result<()> {
        let bucket = bucket.to_owned();
        self.write(move |w| {
            entries
                .iter()
                .try_for_each(|(key, value)| w.put(&bucket, key, value))
        })
        .await
    }

    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()> {
        let (bucket, keys) = (bucket.to_owned(), keys.to_vec());
        self.write(move |w| keys.iter().try_for_each(|key| w.remove(&bucket, key)))
            .await
    }

    async fn usage(&self, namespace: &str) -> Result<u64> {
        let namespace = namespace.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read()?;
            let usage = txn.open_table(USAGE)?;
            Ok(usage.get(namespace.as_str())?.map_or(0, |u| u.value()))
        })
        .await
    }
}

/// One write transaction's entries, and how much each namespace it touched grew or shrank.
struct Writer<'txn> {
    entries: Table<'txn, (&'static str, &'static str), &'static [u8]>,
    deltas: HashMap<String, i64>,
}

impl Writer<'_> {
    /// Stores `value` under `key`, accounting the change in size.
    fn put(&mut self, bucket: &str, key: &str, value: &[u8]) -> Result<()> {
        let old = self.entries.insert((bucket, key), value)?;
        let old = old.map_or(0, |old| entry_size(key, old.value().len()));
        self.account(bucket, entry_size(key, value.len()), old);
        Ok(())
    }

    /// Removes `key` if present, accounting the bytes it frees.
    fn remove(&mut self, bucket: &str, key: &str) -> Result<()> {
        let old = self.entries.remove((bucket, key))?;
        let old = old.map_or(0, |old| entry_size(key, old.value().len()));
        self.account(bucket, 0, old);
        Ok(())
    }

    fn account(&mut self, bucket: &str, new: u64, old: u64) {
        let delta = i64::try_from(new).unwrap_or(i64::MAX) - i64::try_from(old).unwrap_or(i64::MAX);
        if delta != 0 {
            *self.deltas.entry(namespace(bucket).to_owned()).or_default() += delta;
        }
    }

    /// Applies the accumulated changes to `usage`, refusing growth past `quota`.
    fn settle(&mut self, usage: &mut Table<'_, &'static str, u64>, quota: u64) -> Result<()> {
        for (namespace, delta) in self.deltas.drain() {
            let used = usage.get(namespace.as_str())?.map_or(0, |u| u.value());
            match admit(used, delta, quota)? {
                0 => usage.remove(namespace.as_str())?,
                after => usage.insert(namespace.as_str(), after)?,
            };
        }
        Ok(())
    }
}

/// Creates the tables, and counts the usage of a file written before usage was kept (once: the
/// count commits with its marker).
fn count_usage(txn: &WriteTransaction) -> std::result::Result<(), redb::Error> {
    let entries = txn.open_table(ENTRIES)?;
    let mut usage = txn.open_table(USAGE)?;
    let mut meta = txn.open_table(META)?;
    if meta.get(USAGE_COUNTED)?.is_some() {
        return Ok(());
    }
    let mut counted: HashMap<String, u64> = HashMap::new();
    for entry in entries.iter()? {
        let (k, v) = entry?;
        let (bucket, key) = k.value();
        *counted.entry(namespace(bucket).to_owned()).or_default() +=
            entry_size(key, v.value().len());
    }
    usage.retain(|_, _| false)?;
    for (namespace, bytes) in counted {
        usage.insert(namespace.as_str(), bytes)?;
    }
    meta.insert(USAGE_COUNTED, 1)?;
    Ok(())
}

/// redb reports each stage's failure as its own type; all of them are storage failures here.
macro_rules! from_redb {
    ($($ty:ty),*) => {$(
        impl From<$ty> for Error {
            fn from(err: $ty) -> Self {
                Error::Redb(err.into())
            }
        }
    )*};
}

from_redb!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
