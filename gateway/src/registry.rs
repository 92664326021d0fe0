//! The durable function registry: one record per deployed function, in an embedded database.
//!
//! redb commits are atomic and fsynced, so after a crash the registry holds exactly the last
//! acknowledged deploy or delete of every function.

use crate::error::ApiError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;
use wasmgate_capabilities::private_files;
use wasmgate_claims::Claims;
use wasmgate_config::Manifest;

/// redb's page cache for the registry.
const CACHE_BYTES: usize = 4 << 20;

/// Records by function name, as JSON.
const FUNCTIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("functions");

/// Everything needed to serve a deployed function again after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The function's name.
    pub name: String,
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
    /// `sha256:<hex>` of the signed original kept in the data dir's `originals/`, which restore
    /// re-verifies and rebuilds from; `None` for a function deployed before originals were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Fingerprint of the engine that compiled `artifact` (`Pool::engine_fingerprint`); `None`
    /// for a function deployed before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
}

/// The registry database in the data dir.
pub struct Registry {
    db: Database,
}

impl Registry {
    /// Opens or creates the registry at `path`.
    pub fn open(path: &Path) -> Result<Self, ApiError> {
        // The registry is read whole once at start and then only written: a small page cache keeps
        // its pages from staying resident, which matters per idle function at 10,000 of them.
        private_files::create_file(path)
            .map_err(|e| storage(format!("{}: {e}", path.display())))?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(FUNCTIONS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(Registry { db })
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

    /// Writes `record` durably, replacing any record of the same name.
    pub fn put(&self, record: &Record) -> Result<(), ApiError> {
        let json = serde_json::to_vec(record).map_err(storage)?;
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            table
                .insert(record.name.as_str(), json.as_slice())
                .map_err(storage)?;
        }
        txn.commit().map_err(storage)
    }

    /// Writes every record in `records` durably in one transaction (one fsync), replacing any
    /// record of the same name: restore updates all rebuilt functions at once.
    pub fn put_all(&self, records: &[Record]) -> Result<(), ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            for record in records {
                let json = serde_json::to_vec(record).map_err(storage)?;
                table
                    .insert(record.name.as_str(), json.as_slice())
                    .map_err(storage)?;
            }
        }
        txn.commit().map_err(storage)
    }

    /// Removes `name`'s record durably; false if there was none.
    pub fn remove(&self, name: &str) -> Result<bool, ApiError> {
        let txn = self.db.begin_write().map_err(storage)?;
        let existed = {
            let mut table = txn.open_table(FUNCTIONS).map_err(storage)?;
            table.remove(name).map_err(storage)?.is_some()
        };
        txn.commit().map_err(storage)?;
        Ok(existed)
    }
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> Record {
        Record {
            name: name.into(),
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
                jti: "jti".into(),
                wasmgate: wasmgate_claims::WasmgateClaims {
                    hash: "00".into(),
                    caps: vec![wasmgate_config::Capability::HttpOutgoing],
                    version: None,
                    tags: vec![],
                    allowed_hosts: Default::default(),
                },
            },
            token: "a.b.c".into(),
            original: Some("sha256:00".into()),
            engine: Some("e".into()),
        }
    }

    #[test]
    fn records_survive_reopening_and_removal_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("registry.redb");
        {
            let registry = Registry::open(&path).unwrap();
            registry.put(&record("b")).unwrap();
            registry.put(&record("a")).unwrap();
            assert!(registry.remove("b").unwrap());
            assert!(!registry.remove("b").unwrap());
        }
        let registry = Registry::open(&path).unwrap();
        assert_eq!(registry.all().unwrap(), vec![record("a")]);
        let (mut c, mut d) = (record("c"), record("d"));
        c.engine = Some("other".into());
        d.compile_ms = 9.0;
        registry.put_all(&[c.clone(), d.clone()]).unwrap();
        drop(registry);
        let registry = Registry::open(&path).unwrap();
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
}
