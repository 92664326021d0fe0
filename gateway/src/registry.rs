//! The durable function registry: one record per deployed function, in an embedded database.
//!
//! redb commits are atomic and fsynced, so after a crash the registry holds exactly the last
//! acknowledged deploy or delete of every function.

mod versions;

pub use versions::{Live, prunable};

use crate::error::ApiError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use wasmgate_capabilities::{KvScope, private_files};
use wasmgate_claims::Claims;
use wasmgate_config::Manifest;

/// redb's page cache for the registry.
const CACHE_BYTES: usize = 4 << 20;

/// Records by function name, as JSON.
const FUNCTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("functions");

/// The issuer (public key text) that owns each function name: set by the first deploy of the name,
/// changed only by an admin transfer, released by an admin delete.
const OWNERS: TableDefinition<&str, &str> = TableDefinition::new("owners");

/// Everything needed to serve a deployed function again after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The function's name.
    pub name: String,
    /// This deploy's number among the name's versions (1, 2, ...); 0 in a record written before
    /// versions existed, numbered 1 when the registry is opened.
    #[serde(default)]
    pub version: u64,
    /// `sha256:<hex>` of the uploaded module.
    pub digest: String,
    /// Size of the uploaded module in bytes.
    pub size: u64,
    /// `sha256:<hex>` of the precompiled artifact in the artifact store.
    pub artifact: String,
    /// Size of the precompiled artifact in bytes.
    pub artifact_size: u64,
    /// Time the deploy spent compiling, in milliseconds.
    pub compile_ms: f64,
    /// When it was deployed, RFC 3339.
    pub deployed_at: String,
    /// The manifest it was deployed with.
    pub manifest: Manifest,
    /// The verified claims it was signed with.
    pub claims: Claims,
    /// The raw JWT the claims came from, for execute-time policy input.
    pub token: String,
    /// Where the function's key-value data lives; records written before owners existed read as
    /// [`KvLayout::Legacy`], so their data stays where it was.
    #[serde(default)]
    pub kv_layout: KvLayout,
    /// `sha256:<hex>` of the signed original kept in the data dir's `originals/`, which restore
    /// re-verifies and rebuilds from; `None` for a function deployed before originals were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Fingerprint of the engine that compiled `artifact` (`Pool::engine_fingerprint`); `None`
    /// for a function deployed before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// In cluster mode, the node key (43 base64url characters) whose signed artifact this node
    /// loaded as `artifact` instead of compiling the original; `None` when this node compiled it.
    /// A node never signs and shares an artifact it adopted, and rebuilds one whose key it no
    /// longer trusts at its next start. Node-local: never written to the shared registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<String>,
    /// In cluster mode, the revision of the shared registry (`wg_registry`) this record was
    /// written or applied at; `None` for a record this node has not shared (deployed alone).
    /// Never written to the shared registry itself (a record cannot know its own revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_revision: Option<u64>,
}

impl Record {
    /// The key-value namespace this version's guests get: by its signer unless the record
    /// predates owners (see [`KvLayout`]), with the shared buckets its manifest grants.
    pub fn kv_scope(&self) -> Result<KvScope, ApiError> {
        let shared = &self.manifest.keyvalue.shared;
        match self.kv_layout {
            KvLayout::Legacy => KvScope::new(&self.name, shared),
            KvLayout::Owner => KvScope::owned(&owner_id(&self.claims.iss), &self.name, shared),
        }
        .map_err(|e| ApiError::BadRequest {
            reason: format!("keyvalue: {e}"),
        })
    }
}

/// The bucket-name segment standing for an issuer: the first 128 bits of the SHA-256 of its key
/// text, in hex (32 characters; keys themselves may hold characters bucket names must not).
pub fn owner_id(issuer: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(issuer.as_bytes());
    format!("{:x}", digest)[..32].to_owned()
}

/// How a record's private and shared key-value buckets are named in storage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KvLayout {
    /// Before owners: `fn/NAME/b` and `shared/b`, kept for functions deployed before the upgrade
    /// until their name is deleted or changes owner.
    #[default]
    Legacy,
    /// Per owner: the signer's data apart from every other issuer's.
    Owner,
}

/// The registry database in the data dir.
pub struct Registry {
    db: Database,
    /// Versions kept per name (`versions.keep`).
    keep: usize,
}

impl Registry {
    /// Opens or creates the registry at `path`, keeping `keep` versions per name (at least 1);
    /// records from before versions existed become version 1 of their name.
    pub fn open(path: &Path, keep: u32) -> Result<Self, ApiError> {
        // The registry is read whole once at start and then only written: a small page cache keeps
        // its pages from staying resident, which matters per idle function at 10,000 of them.
        private_files::create_file(path)
            .map_err(|e| storage(format!("{}: {e}", path.display())))?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        {
            let functions = txn.open_table(FUNCTIONS).map_err(storage)?;
            let mut owners = txn.open_table(OWNERS).map_err(storage)?;
            // Records from before owners existed: their signer owns the name, as if it had been
            // the first deploy under the new rules.
            for row in functions.iter().map_err(storage)? {
                let (name, value) = row.map_err(storage)?;
                let record: Record = serde_json::from_slice(value.value()).map_err(storage)?;
                if owners.get(name.value()).map_err(storage)?.is_none() {
                    owners
                        .insert(name.value(), record.claims.iss.as_str())
                        .map_err(storage)?;
                }
            }
        }
        versions::number_old_records(&txn)?;
        txn.commit().map_err(storage)?;
        Ok(Registry {
            db,
            keep: usize::try_from(keep).unwrap_or(usize::MAX).max(1),
        })
    }

    /// The issuer that owns `name`, if any does.
    pub fn owner(&self, name: &str) -> Result<Option<String>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(OWNERS).map_err(storage)?;
        Ok(table
            .get(name)
            .map_err(storage)?
            .map(|v| v.value().to_owned()))
    }

    /// Makes `issuer` the owner of `name` durably (an admin transfer, or reserving a name).
    pub fn set_owner(&self, name: &str, issuer: &str) -> Result<(), ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        txn.open_table(OWNERS)
            .map_err(storage)?
            .insert(name, issuer)
            .map_err(storage)?;
        txn.commit().map_err(storage)
    }

    /// Every record, in name order.
    pub fn all(&self) -> Result<Vec<Record>, ApiError> {
        let txn = self.db.begin_read().map_err(storage)?;
        let table = txn.open_table(FUNCTIONS).map_err(storage)?;
        let mut records = Vec::new();
        for row in table.iter().map_err(storage)? {
            let (_, value) = row.map_err(storage)?;
            records.push(serde_json::from_slice(value.value()).map_err(storage)?);
        }
        Ok(records)
    }

    /// Writes `record` durably as its name's only live version (numbered the next one when its
    /// `version` is 0), keeps it among the name's versions, and makes its signer the name's owner
    /// when the name has none; all in one transaction. Returns the versions pruned past
    /// `versions.keep`, whose artifacts and originals the caller may release.
    pub fn put(&self, record: &Record) -> Result<Vec<Record>, ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let mut record = record.clone();
        if record.version == 0 {
            record.version = versions::next_version(&txn, &record.name)?;
        }
        let json = serde_json::to_vec(&record).map_err(storage)?;
        let pruned = versions::put_live(
            &txn,
            &record,
            &crate::traffic::Weights::single(record.version),
            std::slice::from_ref(&record),
            self.keep,
        )?;
        {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            table
                .insert(record.name.as_str(), json.as_slice())
                .map_err(storage)?;
            let mut owners = txn.open_table(OWNERS).map_err(storage)?;
            if owners.get(record.name.as_str()).map_err(storage)?.is_none() {
                owners
                    .insert(record.name.as_str(), record.claims.iss.as_str())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)?;
        Ok(pruned)
    }

    /// Writes every record in `records` durably in one transaction (one fsync), replacing the
    /// kept version of the same name and number, and the name's record when it is that version:
    /// restore updates all rebuilt versions at once.
    pub fn put_all(&self, records: &[Record]) -> Result<(), ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            for record in records {
                let json = serde_json::to_vec(record).map_err(storage)?;
                let primary = match table.get(record.name.as_str()).map_err(storage)? {
                    Some(value) => {
                        let current: Record =
                            serde_json::from_slice(value.value()).map_err(storage)?;
                        current.version == record.version
                    }
                    None => true,
                };
                if primary {
                    table
                        .insert(record.name.as_str(), json.as_slice())
                        .map_err(storage)?;
                }
                versions::replace(&txn, record)?;
            }
        }
        txn.commit().map_err(storage)
    }

    /// Removes `name`'s record, its owner and every kept version durably, in one transaction;
    /// returns the versions removed (empty if there was no record), whose artifacts and originals
    /// the caller may release.
    pub fn remove(&self, name: &str) -> Result<Vec<Record>, ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let removed = {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            let existed = table.remove(name).map_err(storage)?.is_some();
            txn.open_table(OWNERS)
                .map_err(storage)?
                .remove(name)
                .map_err(storage)?;
            let versions = versions::remove_all(&txn, name)?;
            if existed { versions } else { Vec::new() }
        };
        txn.commit().map_err(storage)?;
        Ok(removed)
    }
}

pub(crate) fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: e.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(name: &str) -> Record {
        Record {
            name: name.into(),
            version: 1,
            digest: "sha256:00".into(),
            size: 1,
            artifact: "sha256:11".into(),
            artifact_size: 2,
            compile_ms: 3.0,
            deployed_at: "2026-01-01T00:00:00Z".into(),
            manifest: Manifest::default(),
            claims: Claims {
                iss: "issuer".into(),
                sub: name.into(),
                iat: 1,
                nbf: 1,
                exp: None,
                aud: None,
                jti: "jti".into(),
                wasmgate: wasmgate_claims::WasmgateClaims {
                    hash: "00".into(),
                    caps: vec![wasmgate_config::Capability::HttpOutgoing],
                    version: None,
                    tags: vec![],
                    allowed_hosts: Default::default(),
                    manifest: None,
                },
            },
            token: "a.b.c".into(),
            kv_layout: KvLayout::Owner,
            original: Some("sha256:00".into()),
            engine: Some("e".into()),
            cluster_revision: None,
            adopted_from: None,
        }
    }

    #[test]
    fn records_survive_reopening_and_removal_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        {
            let registry = Registry::open(&path, 10).unwrap();
            registry.put(&record("b")).unwrap();
            registry.put(&record("a")).unwrap();
            assert!(!registry.remove("b").unwrap().is_empty());
            assert!(registry.remove("b").unwrap().is_empty());
        }
        let registry = Registry::open(&path, 10).unwrap();
        assert_eq!(registry.all().unwrap(), vec![record("a")]);
        let (mut c, mut d) = (record("c"), record("d"));
        c.engine = Some("other".into());
        d.compile_ms = 9.0;
        registry.put_all(&[c.clone(), d.clone()]).unwrap();
        drop(registry);
        let registry = Registry::open(&path, 10).unwrap();
        assert_eq!(registry.all().unwrap(), vec![record("a"), c, d]);
    }

    #[test]
    fn a_record_written_before_originals_were_kept_still_loads() {
        let mut old = serde_json::to_value(record("old")).unwrap();
        let fields = old.as_object_mut().unwrap();
        fields.remove("original");
        fields.remove("engine");
        let loaded: Record = serde_json::from_value(old).unwrap();
        assert_eq!((loaded.original, loaded.engine), (None, None));
    }

    #[test]
    fn the_first_signer_owns_a_name_until_it_is_deleted_or_transferred() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        let registry = Registry::open(&path, 10).unwrap();
        registry.put(&record("a")).unwrap();
        assert_eq!(registry.owner("a").unwrap().as_deref(), Some("issuer"));
        let mut other = record("a");
        other.claims.iss = "other".into();
        registry.put(&other).unwrap();
        assert_eq!(
            registry.owner("a").unwrap().as_deref(),
            Some("issuer"),
            "a later record does not change the owner"
        );
        registry.set_owner("a", "other").unwrap();
        drop(registry);
        let registry = Registry::open(&path, 10).unwrap();
        assert_eq!(registry.owner("a").unwrap().as_deref(), Some("other"));
        registry.remove("a").unwrap();
        assert_eq!(registry.owner("a").unwrap(), None);
    }

    #[test]
    fn records_from_before_owners_existed_are_owned_by_their_signer_and_keep_their_data_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            {
                let mut table = txn.open_table(FUNCTIONS).unwrap();
                let mut old = serde_json::to_value(record("a")).unwrap();
                old.as_object_mut().unwrap().remove("kv_layout");
                let json = serde_json::to_vec(&old).unwrap();
                table.insert("a", json.as_slice()).unwrap();
            }
            txn.commit().unwrap();
        }
        let registry = Registry::open(&path, 10).unwrap();
        assert_eq!(registry.owner("a").unwrap().as_deref(), Some("issuer"));
        assert_eq!(registry.all().unwrap()[0].kv_layout, KvLayout::Legacy);
    }
}
