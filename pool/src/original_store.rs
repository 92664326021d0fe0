//! The signed originals: each component exactly as it was deployed, kept beside its artifact.
//!
//! An artifact serves only the engine that compiled it; the original is what a restart
//! re-verifies (signature, issuer, hash, validity window) and what an artifact from another
//! engine is rebuilt from, so an upgrade needs no redeploy. Files are `<sha256 hex>.wasm`, the
//! digest of the whole signed component, written atomically like artifacts.

use crate::content_store::{ContentStore, Kind};
use crate::digest::Digest;
use crate::error::Result;
use std::collections::HashSet;
use std::path::PathBuf;

/// The directory of signed originals, named by the sha256 of their bytes.
#[derive(Debug)]
pub struct OriginalStore(ContentStore);

impl OriginalStore {
    /// Opens (creating it `0700` if needed) the store at `dir`, removing temp files a crash left.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        ContentStore::open(dir, Kind::Originals).map(OriginalStore)
    }

    /// Writes `component` durably (temp file, fsync, rename, fsync of the directory) and returns
    /// its digest; an identical original already stored is kept as it is. Blocking I/O.
    pub fn write(&self, component: &[u8]) -> Result<Digest> {
        self.0.write(component)
    }

    /// The original named `digest` as it is on disk, unchecked: whoever reads it compares its
    /// digest with the one it recorded, and verifies its signature. Blocking I/O.
    pub fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        self.0.read(digest)
    }

    /// Where the original named `digest` lives, for the operator's log.
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.0.path(digest)
    }

    /// Deletes one original durably; a missing one is not an error.
    pub fn remove(&self, digest: &Digest) -> Result<()> {
        self.0.remove(digest)
    }

    /// Deletes every original not in `keep` (those of no registered function); returns how many.
    pub fn retain(&self, keep: &HashSet<Digest>) -> Result<usize> {
        self.0.retain(keep)
    }

    /// Bytes of every stored original, in bytes on disk (for disk quotas and reports).
    pub fn total_bytes(&self) -> Result<u64> {
        self.0.total_bytes()
    }
}
