//! Kept versions of each function and which of them are live, in the same database as the
//! records, changed in the same transactions.
//!
//! `versions` holds every kept version by `(name, number)`; `live` holds, by name, the weights
//! of the live versions and the next number to give; `blobs` maps each artifact and original
//! digest to the versions using it (`name@number`), so releasing a blob asks one key, not every
//! version.

use super::{FUNCTIONS, Record, Registry, storage};
use crate::error::ApiError;
use crate::traffic::Weights;
use redb::{
    MultimapTableDefinition, ReadableDatabase, ReadableMultimapTable, ReadableTable,
    TableDefinition, WriteTransaction,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// Every kept version, by name and number, as JSON [`Record`]s.
const VERSIONS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("versions");

/// By name: the live versions' weights and the next version number, as JSON [`Live`].
const LIVE: TableDefinition<&str, &[u8]> = TableDefinition::new("live");

/// Artifact and original digests, each to the kept versions (`name@number`) that use it.
const BLOBS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("blobs");

/// Which versions of a name take traffic, and the number its next deploy gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Live {
    /// The number the next deploy of the name gets: numbers are never reused, even after
    /// pruning.
    pub next_version: u64,
    /// The live versions and their weights.
    pub weights: Weights,
}

/// The versions to prune from `kept` (ascending numbers) so that at most `keep` remain: the
/// oldest first, never one of `live` (live versions stay even past `keep`).
pub fn prunable(kept: &[u64], live: &Weights, keep: usize) -> Vec<u64> {
    let excess = kept.len().saturating_sub(keep);
    kept.iter()
        .copied()
        .filter(|v| !live.contains(*v))
        .take(excess)
        .collect()
}

impl Registry {
    /// The live versions of `name` and its next number; `None` when it is not deployed.
    pub fn live(&self, name: &str) -> Result<Option<Live>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(LIVE).map_err(storage)?;
        table
            .get(name)
            .map_err(storage)?
            .map(|v| serde_json::from_slice(v.value()).map_err(storage))
            .transpose()
    }

    /// Every name's live versions, by name (restore reads them once at start).
    pub fn all_live(&self) -> Result<BTreeMap<String, Live>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(LIVE).map_err(storage)?;
        let mut all = BTreeMap::new();
        for row in table.iter().map_err(storage)? {
            let (name, value) = row.map_err(storage)?;
            all.insert(
                name.value().to_owned(),
                serde_json::from_slice(value.value()).map_err(storage)?,
            );
        }
        Ok(all)
    }

    /// Every kept version of `name`, oldest first.
    pub fn versions(&self, name: &str) -> Result<Vec<Record>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(VERSIONS).map_err(storage)?;
        let mut records = Vec::new();
        for row in table.range((name, 0)..=(name, u64::MAX)).map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            records.push(serde_json::from_slice(value.value()).map_err(storage)?);
        }
        Ok(records)
    }

    /// Kept version `version` of `name`.
    pub fn version(&self, name: &str, version: u64) -> Result<Option<Record>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(VERSIONS).map_err(storage)?;
        table
            .get((name, version))
            .map_err(storage)?
            .map(|v| serde_json::from_slice(v.value()).map_err(storage))
            .transpose()
    }

    /// The number the next deploy of `name` gets.
    pub fn next_version(&self, name: &str) -> Result<u64, ApiError> {
        Ok(self.live(name)?.map_or(1, |live| live.next_version))
    }

    /// Whether a kept version uses the artifact or original `digest` (`sha256:<hex>`).
    pub fn keeps_blob(&self, digest: &str) -> Result<bool, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_multimap_table(BLOBS).map_err(storage)?;
        let mut users = table.get(digest).map_err(storage)?;
        Ok(users.next().is_some())
    }

    /// Every artifact and original digest a kept version uses (restore keeps these on disk).
    pub fn kept_blobs(&self) -> Result<HashSet<String>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_multimap_table(BLOBS).map_err(storage)?;
        let mut blobs = HashSet::new();
        for row in table.iter().map_err(storage)? {
            let (digest, _) = row.map_err(storage)?;
            blobs.insert(digest.value().to_owned());
        }
        Ok(blobs)
    }

    /// Keeps `record` as a new version of its name without moving traffic to it: it joins the
    /// live versions at weight 0 (callable by tag), and the name's record stays the primary
    /// version's; a canary then gives it its share. Returns the versions pruned past
    /// `versions.keep`, and the weights now live.
    pub fn keep_beside(&self, record: &Record) -> Result<(Vec<Record>, Weights), ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let live: Live = txn
            .open_table(LIVE)
            .map_err(storage)?
            .get(record.name.as_str())
            .map_err(storage)?
            .map(|v| serde_json::from_slice(v.value()).map_err(storage))
            .transpose()?
            .ok_or_else(|| ApiError::FunctionNotFound {
                name: record.name.clone(),
            })?;
        let mut weights: BTreeMap<u64, u8> = live.weights.into();
        weights.insert(record.version, 0);
        let weights = Weights::try_from(weights).map_err(|e| ApiError::Internal {
            reason: format!("weights of {}: {e}", record.name),
        })?;
        let pruned = put_live(
            &txn,
            record,
            &weights,
            std::slice::from_ref(record),
            self.keep,
        )?;
        txn.commit().map_err(storage)?;
        Ok((pruned, weights))
    }

    /// Makes `weights` the live versions of `name` durably, with `records` (the live versions'
    /// records, rebuilt ones included) kept and the largest share's record as the name's record;
    /// one transaction. Returns the versions pruned past `versions.keep`.
    pub fn set_live(
        &self,
        name: &str,
        weights: &Weights,
        records: &[Record],
    ) -> Result<Vec<Record>, ApiError> {
        let primary = records
            .iter()
            .find(|r| r.version == weights.primary())
            .ok_or_else(|| ApiError::Internal {
                reason: format!("the live records of {name} miss its primary version"),
            })?;
        let txn = self.db.begin_write().map_err(storage)?;
        let pruned = put_live(&txn, primary, weights, records, self.keep)?;
        {
            let json = serde_json::to_vec(primary).map_err(storage)?;
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            table.insert(name, json.as_slice()).map_err(storage)?;
        }
        txn.commit().map_err(storage)?;
        Ok(pruned)
    }
}

/// The number the next deploy of `name` gets, inside a write.
pub(super) fn next_version(txn: &WriteTransaction, name: &str) -> Result<u64, ApiError> {
    let table = txn.open_table(LIVE).map_err(storage)?;
    let live: Option<Live> = table
        .get(name)
        .map_err(storage)?
        .map(|v| serde_json::from_slice(v.value()).map_err(storage))
        .transpose()?;
    Ok(live.map_or(1, |l| l.next_version))
}

/// Keeps `records`, makes `weights` live for `primary`'s name (advancing its next number past
/// every kept one), and prunes past `keep`; returns the pruned versions.
pub(super) fn put_live(
    txn: &WriteTransaction,
    primary: &Record,
    weights: &Weights,
    records: &[Record],
    keep: usize,
) -> Result<Vec<Record>, ApiError> {
    let name = primary.name.as_str();
    for record in records {
        replace(txn, record)?;
    }
    let kept: Vec<u64> = {
        let table = txn.open_table(VERSIONS).map_err(storage)?;
        let mut kept = Vec::new();
        for row in table.range((name, 0)..=(name, u64::MAX)).map_err(storage)? {
            kept.push(row.map_err(storage)?.0.value().1);
        }
        kept
    };
    let next = next_version(txn, name)?
        .max(kept.last().map_or(1, |v| v + 1))
        .max(primary.version + 1);
    let live = serde_json::to_vec(&Live {
        next_version: next,
        weights: weights.clone(),
    })
    .map_err(storage)?;
    txn.open_table(LIVE)
        .map_err(storage)?
        .insert(name, live.as_slice())
        .map_err(storage)?;
    let mut pruned = Vec::new();
    for version in prunable(&kept, weights, keep) {
        pruned.extend(remove_version(txn, name, version)?);
    }
    Ok(pruned)
}

/// Writes `record` as kept version `(name, version)`, moving its blob references with it.
pub(super) fn replace(txn: &WriteTransaction, record: &Record) -> Result<(), ApiError> {
    remove_version(txn, &record.name, record.version)?;
    let json = serde_json::to_vec(record).map_err(storage)?;
    txn.open_table(VERSIONS)
        .map_err(storage)?
        .insert((record.name.as_str(), record.version), json.as_slice())
        .map_err(storage)?;
    let user = format!("{}@{}", record.name, record.version);
    let mut blobs = txn.open_multimap_table(BLOBS).map_err(storage)?;
    for digest in blobs_of(record) {
        blobs.insert(digest, user.as_str()).map_err(storage)?;
    }
    Ok(())
}

/// Removes every kept version of `name` and its live weights; returns the versions removed.
pub(super) fn remove_all(txn: &WriteTransaction, name: &str) -> Result<Vec<Record>, ApiError> {
    let numbers: Vec<u64> = {
        let table = txn.open_table(VERSIONS).map_err(storage)?;
        let mut numbers = Vec::new();
        for row in table.range((name, 0)..=(name, u64::MAX)).map_err(storage)? {
            numbers.push(row.map_err(storage)?.0.value().1);
        }
        numbers
    };
    let mut removed = Vec::new();
    for version in numbers {
        removed.extend(remove_version(txn, name, version)?);
    }
    txn.open_table(LIVE)
        .map_err(storage)?
        .remove(name)
        .map_err(storage)?;
    Ok(removed)
}

/// Creates the version tables, and numbers records written before versions existed: each
/// becomes version 1 of its name, kept and live.
pub(super) fn number_old_records(txn: &WriteTransaction) -> Result<(), ApiError> {
    // Created here, so reads never meet a missing table.
    txn.open_table(VERSIONS).map_err(storage)?;
    txn.open_multimap_table(BLOBS).map_err(storage)?;
    let old: Vec<Record> = {
        let functions = txn.open_table(FUNCTIONS).map_err(storage)?;
        let live = txn.open_table(LIVE).map_err(storage)?;
        let mut old = Vec::new();
        for row in functions.iter().map_err(storage)? {
            let (name, value) = row.map_err(storage)?;
            if live.get(name.value()).map_err(storage)?.is_none() {
                old.push(serde_json::from_slice(value.value()).map_err(storage)?);
            }
        }
        old
    };
    for mut record in old {
        record.version = record.version.max(1);
        put_live(
            txn,
            &record,
            &Weights::single(record.version),
            std::slice::from_ref(&record),
            usize::MAX,
        )?;
        let json = serde_json::to_vec(&record).map_err(storage)?;
        txn.open_table(FUNCTIONS)
            .map_err(storage)?
            .insert(record.name.as_str(), json.as_slice())
            .map_err(storage)?;
    }
    Ok(())
}

/// Removes kept version `(name, version)` and its blob references; returns it if it was kept.
fn remove_version(
    txn: &WriteTransaction,
    name: &str,
    version: u64,
) -> Result<Option<Record>, ApiError> {
    let removed: Option<Record> = txn
        .open_table(VERSIONS)
        .map_err(storage)?
        .remove((name, version))
        .map_err(storage)?
        .map(|v| serde_json::from_slice(v.value()).map_err(storage))
        .transpose()?;
    if let Some(record) = &removed {
        let user = format!("{name}@{version}");
        let mut blobs = txn.open_multimap_table(BLOBS).map_err(storage)?;
        for digest in blobs_of(record) {
            blobs.remove(digest, user.as_str()).map_err(storage)?;
        }
    }
    Ok(removed)
}

/// The artifact and original digests `record` uses.
fn blobs_of(record: &Record) -> impl Iterator<Item = &str> {
    std::iter::once(record.artifact.as_str()).chain(record.original.as_deref())
}

#[cfg(test)]
mod tests;
