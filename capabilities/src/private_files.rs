//! The data dir is the gateway's alone: directories `0700`, files `0600`, whatever the umask.
//!
//! It holds the registry (signed claims, manifests with their `[config]`), key-value data, queued
//! messages, async call bodies and results, and the precompiled artifacts the engine maps and
//! trusts without checking (see `pool`'s artifact store). Another local user reading them learns
//! what functions run and what they store; one writing them runs code in the gateway. Everything
//! wasmgate creates there goes through this module, which sets the mode at creation (a mode is
//! only ever narrowed by the umask, so `umask 000` still gets `0600`), and [`tighten`] narrows
//! what an older version, an operator's `cp` or a restore from backup left looser.
//!
//! It lives in this crate because this is the lowest crate that writes in the data dir (the
//! embedded key-value store and bus); `pool` (artifacts) and the gateway (registry, async calls)
//! use it from here, so the rule is written once and no crate gains a dependency.

use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Mode of every directory wasmgate creates in the data dir: the owner may list, create and enter.
pub const DIR_MODE: u32 = 0o700;

/// Mode of every file wasmgate creates in the data dir: the owner may read and write.
pub const FILE_MODE: u32 = 0o600;

/// Permission bits of group and others; any of them set on an entry makes it too loose.
const SHARED_BITS: u32 = 0o077;

/// Creates `dir` and any missing parents with mode `0700`; an existing `dir` looser than that
/// is narrowed to it.
///
/// # Errors
///
/// What the file system reports: no permission, a file in the way, a read-only mount.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)?;
    narrow_path(dir, DIR_MODE)
}

/// Creates `path` empty with mode `0600` unless it exists (then narrows it to `0600`), so a
/// library that opens it by name afterwards (redb) finds a private file.
///
/// # Errors
///
/// What the file system reports.
pub fn create_file(path: &Path) -> io::Result<()> {
    options().create(true).truncate(false).open(path)?;
    narrow_path(path, FILE_MODE)
}

/// Options to open a file for writing that, if created, gets mode `0600`.
pub fn options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.read(true).write(true).mode(FILE_MODE);
    options
}

/// The permissions a temp file in the data dir is created with (`0600`).
pub fn file_permissions() -> Permissions {
    Permissions::from_mode(FILE_MODE)
}

/// An entry [`tighten`] narrowed: where, and its mode before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrowed {
    /// The directory or file.
    pub path: PathBuf,
    /// Its permission bits before.
    pub was: u32,
    /// Its permission bits now.
    pub now: u32,
}

/// Narrows `root` and every directory and file under it that group or others may use to `0700`
/// (directories) or `0600` (files), and returns what it changed, for the log. Symbolic links are
/// neither followed nor changed: the data dir's contents are all wasmgate's own regular files.
///
/// # Errors
///
/// The first entry that cannot be read or changed (say, one owned by another user).
pub fn tighten(root: &Path) -> io::Result<Vec<Narrowed>> {
    let mut changed = Vec::new();
    visit(root, &fs::symlink_metadata(root)?, &mut changed)?;
    changed.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(changed)
}

/// Narrows `path` (whose metadata, not following links, is `meta`) and, for a directory,
/// everything under it; one `stat` per entry, which keeps a start with 10,000 artifacts quick.
fn visit(path: &Path, meta: &fs::Metadata, changed: &mut Vec<Narrowed>) -> io::Result<()> {
    let kind = meta.file_type();
    if kind.is_dir() {
        changed.extend(narrow(path, meta, DIR_MODE)?);
        for entry in fs::read_dir(path)? {
            let entry = entry?;
            visit(&entry.path(), &entry.metadata()?, changed)?;
        }
    } else if kind.is_file() {
        changed.extend(narrow(path, meta, FILE_MODE)?);
    }
    Ok(())
}

/// Sets `path` (whose metadata is `meta`) to `mode` if group or others have any permission on it.
fn narrow(path: &Path, meta: &fs::Metadata, mode: u32) -> io::Result<Option<Narrowed>> {
    let was = meta.permissions().mode() & 0o7777;
    if was & SHARED_BITS == 0 {
        return Ok(None);
    }
    fs::set_permissions(path, Permissions::from_mode(mode))?;
    Ok(Some(Narrowed {
        path: path.to_path_buf(),
        was,
        now: mode,
    }))
}

/// [`narrow`] for a path not yet looked at.
fn narrow_path(path: &Path, mode: u32) -> io::Result<()> {
    narrow(path, &fs::symlink_metadata(path)?, mode).map(|_| ())
}

#[cfg(test)]
mod tests;
