//! A content-addressed directory in the data dir: precompiled artifacts, and the signed originals
//! they were compiled from.
//!
//! Files are named by the sha256 of their own bytes, written with temp file + fsync + rename so a
//! crash never leaves a half-written file under a real name. Artifacts are checked against their
//! name the first time this process loads them: `Component::deserialize_file` trusts its input
//! completely. The directory is `0700` and every file `0600` (see
//! `wasmgate_capabilities::private_files`): whoever may write an artifact runs code in the gateway.

use crate::digest::Digest;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use wasmgate_capabilities::private_files;

/// Prefix of temp files; anything carrying it is debris from a crash and is removed at open.
const TEMP_PREFIX: &str = ".tmp-";

/// What a store holds: its files' extension, and the error their failures become.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Precompiled artifacts (`<hex>.cwasm`), loaded with `Component::deserialize_file`.
    Artifacts,
    /// Signed components as deployed (`<hex>.wasm`), kept to re-verify and rebuild from.
    Originals,
}

impl Kind {
    fn extension(self) -> &'static str {
        match self {
            Kind::Artifacts => "cwasm",
            Kind::Originals => "wasm",
        }
    }

    fn error(self, path: impl Into<PathBuf>, e: impl std::fmt::Display) -> Error {
        match self {
            Kind::Artifacts => Error::artifact(path, e),
            Kind::Originals => Error::Original {
                path: path.into(),
                reason: e.to_string(),
            },
        }
    }
}

/// A directory of files named by the digest of their bytes.
#[derive(Debug)]
pub(crate) struct ContentStore {
    dir: PathBuf,
    kind: Kind,
    /// Digests whose file content this process has hashed and found matching.
    verified: Mutex<HashSet<Digest>>,
}

impl ContentStore {
    /// Opens (creating if needed) the store of `kind` at `dir`, removing temp files left by a crash.
    pub(crate) fn open(dir: impl Into<PathBuf>, kind: Kind) -> Result<Self> {
        let dir = dir.into();
        private_files::create_dir(&dir).map_err(|e| kind.error(&dir, e))?;
        for entry in fs::read_dir(&dir).map_err(|e| kind.error(&dir, e))? {
            let entry = entry.map_err(|e| kind.error(&dir, e))?;
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                // Debris of an interrupted write: never visible under a digest name, safe to drop.
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(ContentStore {
            dir,
            kind,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Where the file with `digest` lives (whether or not it exists).
    pub(crate) fn path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join(format!("{}.{}", digest.hex(), self.kind.extension()))
    }

    /// Writes `bytes` durably under their digest and returns it; an existing identical file is reused.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<Digest> {
        let digest = Digest::of(bytes);
        let path = self.path(&digest);
        if path.exists() {
            return Ok(digest);
        }
        let mut tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .permissions(private_files::file_permissions())
            .tempfile_in(&self.dir)
            .map_err(|e| self.kind.error(&self.dir, e))?;
        tmp.write_all(bytes)
            .map_err(|e| self.kind.error(&path, e))?;
        tmp.as_file()
            .sync_all()
            .map_err(|e| self.kind.error(&path, e))?;
        tmp.persist(&path).map_err(|e| self.kind.error(&path, e))?;
        self.sync_dir()?;
        self.mark_verified(digest);
        Ok(digest)
    }

    /// Returns the path of `digest`'s file after checking, once per process, that its bytes match.
    pub(crate) fn verified_path(&self, digest: &Digest) -> Result<PathBuf> {
        let path = self.path(digest);
        if self.is_verified(digest) {
            return Ok(path);
        }
        let bytes = self.read(digest)?;
        let actual = Digest::of(&bytes);
        if actual != *digest {
            return Err(self.kind.error(
                &path,
                format!("content hashes to {actual}, not its name: refusing to load it"),
            ));
        }
        self.mark_verified(*digest);
        Ok(path)
    }

    /// `digest`'s file as it is on disk, unchecked: the caller compares it with what it expects.
    pub(crate) fn read(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.path(digest);
        fs::read(&path).map_err(|e| self.kind.error(&path, e))
    }

    /// Size in bytes of `digest`'s file on disk.
    pub(crate) fn size(&self, digest: &Digest) -> Result<u64> {
        let path = self.path(digest);
        fs::metadata(&path)
            .map(|m| m.len())
            .map_err(|e| self.kind.error(&path, e))
    }

    /// Bytes of every file in the store (temp files of writes in progress aside).
    pub(crate) fn total_bytes(&self) -> Result<u64> {
        let mut total = 0u64;
        for (_, path) in self.files()? {
            let size = fs::metadata(&path).map_err(|e| self.kind.error(&path, e))?;
            total = total.saturating_add(size.len());
        }
        Ok(total)
    }

    /// Deletes `digest`'s file durably; a missing one is not an error.
    pub(crate) fn remove(&self, digest: &Digest) -> Result<()> {
        let path = self.path(digest);
        match fs::remove_file(&path) {
            Ok(()) => self.sync_dir(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.kind.error(&path, e)),
        }?;
        if let Ok(mut verified) = self.verified.lock() {
            verified.remove(digest);
        }
        Ok(())
    }

    /// Deletes every file whose digest `keep` does not contain; returns how many went.
    pub(crate) fn retain(&self, keep: &HashSet<Digest>) -> Result<usize> {
        let mut removed = 0;
        for (digest, path) in self.files()? {
            if !keep.contains(&digest) {
                fs::remove_file(&path).map_err(|e| self.kind.error(&path, e))?;
                if let Ok(mut verified) = self.verified.lock() {
                    verified.remove(&digest);
                }
                removed += 1;
            }
        }
        if removed > 0 {
            self.sync_dir()?;
        }
        Ok(removed)
    }

    /// Every file named `<digest>.<extension>`, with its path.
    fn files(&self) -> Result<Vec<(Digest, PathBuf)>> {
        let mut files = Vec::new();
        let suffix = format!(".{}", self.kind.extension());
        for entry in fs::read_dir(&self.dir).map_err(|e| self.kind.error(&self.dir, e))? {
            let entry = entry.map_err(|e| self.kind.error(&self.dir, e))?;
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(suffix.as_str())) else {
                continue;
            };
            if let Some(digest) = Digest::parse(stem) {
                files.push((digest, entry.path()));
            }
        }
        Ok(files)
    }

    /// Makes a rename or unlink in the directory durable.
    fn sync_dir(&self) -> Result<()> {
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.kind.error(&self.dir, e))
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

#[cfg(test)]
mod tests;
