//! The content-addressed store of precompiled artifacts in the data dir.
//!
//! Artifacts are named by the sha256 of their own bytes, written with temp file + fsync + rename so a
//! crash never leaves a half-written artifact under a real name, and checked against their name the
//! first time this process loads them: `Component::deserialize_file` trusts its input completely.
//! The directory is `0700` and every artifact `0600` (see `wasmgate_capabilities::private_files`):
//! whoever may write one runs code in the gateway.

use crate::digest::Digest;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wasmgate_capabilities::private_files;

/// File extension of precompiled artifacts.
const EXTENSION: &str = "cwasm";

/// Prefix of temp files; anything carrying it is debris from a crash and is removed at open.
const TEMP_PREFIX: &str = ".tmp-";

/// A directory of precompiled artifacts named by digest.
#[derive(Debug)]
pub struct ArtifactStore {
    dir: PathBuf,
    /// Digests whose file content this process has hashed and found matching.
    verified: Mutex<HashSet<Digest>>,
}

impl ArtifactStore {
    /// Opens (creating if needed) the store at `dir`, removing temp files left by a crash.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        private_files::create_dir(&dir).map_err(|e| Error::artifact(&dir, e))?;
        for entry in fs::read_dir(&dir).map_err(|e| Error::artifact(&dir, e))? {
            let entry = entry.map_err(|e| Error::artifact(&dir, e))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                // Debris of an interrupted write: never visible under a digest name, safe to drop.
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(ArtifactStore {
            dir,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Where the artifact with `digest` lives (whether or not it exists).
    pub fn path(&self, digest: &Digest) -> PathBuf {
        self.dir.join(format!("{}.{EXTENSION}", digest.hex()))
    }

    /// Writes `bytes` durably under their digest and returns it; an existing identical artifact is reused.
    pub fn write(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(private_files::file_permissions())
            .tempfile_in(&self.dir)
            .map_err(|e| Error::artifact(&self.dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| Error::artifact(&path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::artifact(&path, e))?;
        tmp.persist(&path).map_err(|e| Error::artifact(&path, e))?;
        sync_dir(&self.dir)?;
        self.mark_verified(digest);
        Ok(digest)
    }

    /// Returns the path of `digest`'s artifact after checking, once per process, that its bytes match.
    pub fn verified_path(&self, digest: &Digest) -> Result<PathBuf> {
        let path = self.path(digest);
        if self.is_verified(digest) {
            return Ok(path);
        }
        let bytes = fs::read(&path).map_err(|e| Error::artifact(&path, e))?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(Error::artifact(
                &path,
                format!("content hashes to {actual}, not its name: refusing to load it"),
            ));
        }
        self.mark_verified(*digest);
        Ok(path)
    }

    /// Size in bytes of `digest`'s artifact on disk.
    pub fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.path(digest);
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| Error::artifact(&path, e))
    }

    /// Deletes `digest`'s artifact durably; a missing one is not an error.
    pub fn remove(&self, digest: &Digest) -> Result<()> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => sync_dir(&self.dir),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::artifact(&path, e)),
        }?;
        if let Ok(mut verified) = self.verified.lock() {
            verified.remove(digest);
        }
        Ok(())
    }

    /// Deletes every artifact whose digest `keep` does not contain; returns how many went.
    pub fn retain(&self, keep: &HashSet<Digest>) -> Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(&self.dir).map_err(|e| Error::artifact(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::artifact(&self.dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".cwasm")) else {
                continue;
            };
            let Some(digest) = Digest::parse(stem) else {
                continue;
            };
            if !keep.contains(&digest) {
                fs::remove_file(entry.path()).map_err(|e| Error::artifact(entry.path(), e))?;
                if let Ok(mut verified) = self.verified.lock() {
                    verified.remove(&digest);
                }
                removed += 1;
            }
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }

    fn is_verified(&self, digest: &Digest) -> bool {
        self.verified
            .lock()
            .map(|set| set.contains(digest))
            .unwrap_or(false)
    }

    fn mark_verified(&self, digest: Digest) {
        if let Ok(mut set) = self.verified.lock() {
            set.insert(digest);
        }
    }
}

/// Makes a rename or unlink in `dir` durable.
fn sync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::artifact(dir, e))
}

#[cfg(test)]
mod tests;
