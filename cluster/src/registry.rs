//! The shared function registry: KV bucket `wg_registry`, one key `fn.<name>` per function.
//!
//! Writes are compare-and-swap on the key's last revision (JetStream's
//! `Nats-Expected-Last-Subject-Sequence`), so two nodes deploying one name at once cannot both
//! win: the second gets [`Error::Conflict`]. A node follows the registry
//! with [`Cluster::changes`]: the live records at one revision, then every change after it.

use crate::connection::Cluster;
use crate::error::{Error, Result, unavailable};
use async_nats::jetstream::kv::{self, CreateErrorKind, Operation, UpdateErrorKind};
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use std::pin::Pin;

/// Key prefix of function records.
const PREFIX: &str = "fn.";

/// Key prefix of name owners set by an admin transfer (`owner.<name>` → the issuer's key).
const OWNER_PREFIX: &str = "owner.";

/// A record's bytes and the revision that wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned {
    /// The record as the gateway wrote it.
    pub value: Bytes,
    /// The bucket revision of that write (increases with every write to the bucket).
    pub revision: u64,
}

/// One change to the registry.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `name` was deployed (or replaced): its record at `revision`.
    Put {
        /// The function.
        name: String,
        /// Its record.
        record: Versioned,
    },
    /// An admin made `issuer` the owner of `name` (a transfer) at `revision`.
    Owner {
        /// The function name.
        name: String,
        /// The new owner's public key.
        issuer: String,
        /// The revision of the transfer.
        revision: u64,
    },
    /// `name` was deleted at `revision`.
    Delete {
        /// The function.
        name: String,
        /// The revision of the delete.
        revision: u64,
    },
}

/// The registry as one revision saw it, then every change after that revision.
pub struct Changes {
    /// Every live record when following began.
    pub snapshot: Vec<(String, Versioned)>,
    /// Every owner set by a transfer when following began, as [`Change::Owner`]s.
    pub owners: Vec<Change>,
    /// Changes after the snapshot, in order; ends (or yields an error) when the connection is
    /// lost, after which the caller follows again.
    pub live: Pin<Box<dyn Stream<Item = Result<Change>> + Send>>,
}

impl Cluster {
    /// `name`'s record, if it has one.
    pub async fn record(&self, name: &str) -> Result<Option<Versioned>> {
        let bucket = self.registry_bucket().await?;
        let entry = bucket
            .entry(key(name))
            .await
            .map_err(|e| unavailable(&format!("reading the record of {name}"), e))?;
        Ok(entry.and_then(|e| match e.operation {
            Operation::Put => Some(Versioned {
                value: e.value,
                revision: e.revision,
            }),
            Operation::Delete | Operation::Purge => None,
        }))
    }

    /// Writes `name`'s record if the key is still at `expected` (`None`: has no live record);
    /// returns the new revision, or [`Error::Conflict`] when another node wrote it in between.
    pub async fn put_record(&self, name: &str, value: Bytes, expected: Option<u64>) -> Result<u64> {
        let bucket = self.registry_bucket().await?;
        let doing = format!("writing the record of {name}");
        match expected {
            None => bucket
                .create(key(name), value)
                .await
                .map_err(|e| match e.kind() {
                    CreateErrorKind::AlreadyExists => Error::Conflict { key: key(name) },
                    _ => unavailable(&doing, e),
                }),
            Some(revision) => bucket
                .update(key(name), value, revision)
                .await
                .map_err(|e| match e.kind() {
                    UpdateErrorKind::WrongLastRevision => Error::Conflict { key: key(name) },
                    _ => unavailable(&doing, e),
                }),
        }
    }

    /// Deletes `name`'s record and releases its owner (every node stops serving it when it
    /// sees the delete).
    pub async fn delete_record(&self, name: &str) -> Result<()> {
        let bucket = self.registry_bucket().await?;
        let doing = format!("deleting the record of {name}");
        bucket
            .delete(key(name))
            .await
            .map_err(|e| unavailable(&doing, e))?;
        bucket
            .purge(format!("{OWNER_PREFIX}{name}"))
            .await
            .map_err(|e| unavailable(&doing, e))
    }

    /// Records an admin's transfer of `name` to `issuer` (every node applies it).
    pub async fn put_owner(&self, name: &str, issuer: &str) -> Result<()> {
        let bucket = self.registry_bucket().await?;
        bucket
            .put(
                format!("{OWNER_PREFIX}{name}"),
                Bytes::copy_from_slice(issuer.as_bytes()),
            )
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&format!("transferring {name}"), e))
    }

    /// Starts following the registry: the live records now, then every change after them.
    pub async fn changes(&self) -> Result<Changes> {
        let bucket = self.registry_bucket().await?;
        let doing = "reading the registry";
        let status = bucket.status().await.map_err(|e| unavailable(doing, e))?;
        let last = status.info.state.last_sequence;
        // Keys listed after `last` may hold newer revisions than `last`: the live stream replays
        // those changes again, and the caller applies a revision only once.
        let keys: Vec<String> = bucket
            .keys()
            .await
            .map_err(|e| unavailable(doing, e))?
            .try_collect()
            .await
            .map_err(|e| unavailable(doing, e))?;
        let mut snapshot = Vec::with_capacity(keys.len());
        let mut owners = Vec::new();
        for k in keys {
            let Some(entry) = bucket
                .entry(k.as_str())
                .await
                .map_err(|e| unavailable(doing, e))?
                .filter(|e| e.operation == Operation::Put)
            else {
                continue;
            };
            if let Some(name) = k.strip_prefix(PREFIX) {
                snapshot.push((
                    name.to_owned(),
                    Versioned {
                        value: entry.value,
                        revision: entry.revision,
                    },
                ));
            } else if let Some(owner) = change(entry) {
                owners.push(owner);
            }
        }
        let watch = bucket
            .watch_all_from_revision(last + 1)
            .await
            .map_err(|e| unavailable("watching the registry", e))?;
        let live = watch.filter_map(|entry| async move {
            match entry {
                Err(e) => Some(Err(unavailable("watching the registry", e))),
                Ok(entry) => change(entry).map(Ok),
            }
        });
        Ok(Changes {
            snapshot,
            owners,
            live: Box::pin(live),
        })
    }
}

/// The change a watched entry stands for; `None` for keys that are neither records nor owners
/// (and for an owner's removal, which always comes with its record's delete).
fn change(entry: kv::Entry) -> Option<Change> {
    if let Some(name) = entry.key.strip_prefix(OWNER_PREFIX) {
        return (entry.operation == Operation::Put).then(|| Change::Owner {
            name: name.to_owned(),
            issuer: String::from_utf8_lossy(&entry.value).into_owned(),
            revision: entry.revision,
        });
    }
    let name = entry.key.strip_prefix(PREFIX)?.to_owned();
    Some(match entry.operation {
        Operation::Put => Change::Put {
            name,
            record: Versioned {
                value: entry.value,
                revision: entry.revision,
            },
        },
        Operation::Delete | Operation::Purge => Change::Delete {
            name,
            revision: entry.revision,
        },
    })
}

/// The key of `name`'s record.
fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}
