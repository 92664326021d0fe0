//! The default backend: one redb file in the data dir, every write its own durable transaction.

use crate::error::{Error, Result};
use crate::keyvalue::backend::{KeyPage, KvBackend, LIST_PAGE_SIZE};
use crate::keyvalue::counter;
use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;

/// The file name of the key-value database inside the data dir.
pub const REDB_FILE_NAME: &str = "kv.redb";

/// Every entry of every bucket, keyed by `(bucket, key)`: a tuple key needs no escaping, and
/// a bucket's entries sit next to each other for range scans.
const ENTRIES: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("entries");

/// Key-value storage in a single redb file, durable on one machine.
///
/// Every write commits its own transaction with redb's default immediate durability, so it is
/// on disk (fsynced) before the call returns. redb runs one write transaction at a time, which
/// makes `increment` atomic. All database work runs on tokio's blocking pool.
#[derive(Clone)]
pub struct RedbBackend {
    db: Arc<Database>,
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
        // Creating the table up front lets readers open it without a missing-table case.
        let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
        txn.open_table(ENTRIES).map_err(|e| open_err(e.into()))?;
        txn.commit().map_err(|e| open_err(e.into()))?;
        Ok(RedbBackend { db: Arc::new(db) })
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

    /// Runs `work` in one write transaction and commits it durably.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut redb::Table<(&str, &str), &[u8]>) -> Result<T> + Send + 'static,
    {
        self.blocking(move |db| {
            let txn = db.begin_write()?;
            let out = {
                let mut table = txn.open_table(ENTRIES)?;
                work(&mut table)?
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
            for entry in table.range((prefix.as_str(), "")..)? {
                let (k, _) = entry?;
                let (bucket, key) = k.value();
                if !bucket.starts_with(prefix.as_str()) {
                    break;
                }
                doomed.push((bucket.to_owned(), key.to_owned()));
            }
            for (bucket, key) in &doomed {
                table.remove((bucket.as_str(), key.as_str()))?;
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
        self.write(move |table| {
            table.insert((bucket.as_str(), key.as_str()), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<()> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |table| {
            table.remove((bucket.as_str(), key.as_str()))?;
            Ok(())
        })
        .await
    }

    async fn exists(&self, bucket: &str, key: &str) -> Result<bool> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.read(move |table| Ok(table.get((bucket.as_str(), key.as_str()))?.is_some()))
            .await
    }

    /// The cursor is the number of keys already returned; keys come in byte order. Skipping to
    /// it costs a scan over the earlier keys, cheap next to the fsync every write pays.
    async fn list_keys(&self, bucket: &str, cursor: Option<u64>) -> Result<KeyPage> {
        let bucket = bucket.to_owned();
        let skip = usize::try_from(cursor.unwrap_or(0)).unwrap_or(usize::MAX);
        self.read(move |table| {
            let mut keys = Vec::new();
            let mut more = false;
            for entry in table.range((bucket.as_str(), "")..)?.skip(skip) {
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
            let next = skip.saturating_add(keys.len());
            Ok(KeyPage {
                keys,
                cursor: more.then(|| u64::try_from(next).unwrap_or(u64::MAX)),
            })
        })
        .await
    }

    async fn increment(&self, bucket: &str, key: &str, delta: u64) -> Result<u64> {
        let (bucket, key) = (bucket.to_owned(), key.to_owned());
        self.write(move |table| {
            let current = match table.get((bucket.as_str(), key.as_str()))? {
                None => 0,
                Some(value) => counter::parse(value.value())
                    .ok_or_else(|| Error::NotACounter { key: key.clone() })?,
            };
            let next = counter::add(&key, current, delta)?;
            table.insert(
                (bucket.as_str(), key.as_str()),
                counter::format(next).as_slice(),
            )?;
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
        self.write(move |table| {
            for (key, value) in &entries {
                table.insert((bucket.as_str(), key.as_str()), value.as_slice())?;
            }
            Ok(())
        })
        .await
    }

    async fn delete_many(&self, bucket: &str, keys: &[String]) -> Result<()> {
        let (bucket, keys) = (bucket.to_owned(), keys.to_vec());
        self.write(move |table| {
            for key in &keys {
                table.remove((bucket.as_str(), key.as_str()))?;
            }
            Ok(())
        })
        .await
    }
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
