//! The client profile `wasmgate login` writes and the client commands read: the gateway's URL,
//! the admin token and a signing key's path, in `$XDG_CONFIG_HOME/wasmgate/profile.toml` (else
//! `~/.config/wasmgate/profile.toml`), mode 0600 in a 0700 directory.
//!
//! The XDG rules are applied here directly rather than through the `dirs`/`directories` crates:
//! both depend on `option-ext`, which is MPL-2.0, a license the project's `deny.toml` does not
//! allow; on Linux the rule is two lines.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The profile file's name inside the config directory.
pub const FILE: &str = "profile.toml";

/// The directory under the XDG config directory that holds the profile.
pub const DIR: &str = "wasmgate";

/// What `wasmgate login` saved; every key optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The gateway's URL, without a trailing slash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The admin token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// An issuer private key (absolute path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
}

/// Where the profile lives, by the XDG base directory rules: `$XDG_CONFIG_HOME` when it is set to
/// an absolute path (a relative one is ignored, as the specification says), else `$HOME/.config`.
pub fn path() -> anyhow::Result<PathBuf> {
    path_from(
        std::env::var_os("XDG_CONFIG_HOME"),
        std::env::var_os("HOME"),
    )
    .context("cannot tell where the profile goes: set HOME or XDG_CONFIG_HOME")
}

fn path_from(xdg_config_home: Option<OsString>, home: Option<OsString>) -> Option<PathBuf> {
    let absolute = |v: OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let config = xdg_config_home
        .and_then(absolute)
        .or_else(|| home.and_then(absolute).map(|h| h.join(".config")))?;
    Some(config.join(DIR).join(FILE))
}

/// Reads the profile at `path`; `None` when there is none. Warns (stderr) when others may read it.
pub fn load(path: &Path) -> anyhow::Result<Option<Profile>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if let Some(mode) = open_to_others(path) {
        eprintln!(
            "wasmgate: warning: {} holds the admin token and others may read it (mode {mode:04o}): run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
    let profile = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a valid profile: fix it, or run `wasmgate login` again to rewrite it",
            path.display()
        )
    })?;
    Ok(Some(profile))
}

/// The mode of `path` when group or others may use it.
fn open_to_others(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then_some(mode)
}

/// Writes `profile` to `path` (replacing it) with mode 0600, its directory made 0700 first:
/// refuses when the directory cannot be made private, so the token never lands where others may
/// read it.
pub fn save(path: &Path, profile: &Profile) -> anyhow::Result<()> {
    let dir = path.parent().context("the profile path has no directory")?;
    make_private_dir(dir)?;
    let text = toml::to_string(profile).context("cannot write the profile as TOML")?;
    // A fresh temporary file is 0600 from its creation on; the rename replaces whatever was at
    // `path` (a file of another mode, a symlink) rather than writing through it.
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("cannot make a file in {} private", dir.display()))?;
    tmp.write_all(text.as_bytes())
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    let meta = std::fs::symlink_metadata(path)
        .with_context(|| format!("cannot read back {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    if !meta.is_file() || mode != 0o600 {
        bail!(
            "{} is not a private file after writing it (mode {mode:04o}): remove it and run `wasmgate login` again",
            path.display()
        );
    }
    Ok(())
}

/// Creates `dir` (and missing parents) 0700, or narrows an existing one to 0700.
fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display())),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
        Ok(meta) if !meta.is_dir() => bail!(
            "{} is not a directory: move it away so the profile can be written there",
            dir.display()
        ),
        Ok(meta) => {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| {
                        format!(
                            "{} is open to others (mode {mode:04o}) and cannot be made private; the token is not written there",
                            dir.display()
                        )
                    })?;
                eprintln!(
                    "wasmgate: {} was open to others (mode {mode:04o}): narrowed to 0700",
                    dir.display()
                );
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_follows_the_xdg_rules() {
        let (config, home) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let os = |s: &str| Some(OsString::from(s));
        let dir = |d: &tempfile::TempDir| Some(d.path().as_os_str().to_owned());
        let under_home = Some(home.path().join(".config/wasmgate/profile.toml"));
        assert_eq!(
            path_from(dir(&config), dir(&home)),
            Some(config.path().join("wasmgate/profile.toml"))
        );
        assert_eq!(path_from(None, dir(&home)), under_home);
        // A relative or empty XDG_CONFIG_HOME is ignored.
        for ignored in ["relative", ""] {
            assert_eq!(path_from(os(ignored), dir(&home)), under_home);
        }
        assert_eq!(path_from(None, None), None);
        assert_eq!(path_from(None, os("")), None);
    }

    #[test]
    fn save_writes_a_private_file_in_a_private_dir_and_load_reads_it_back() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join("cfg").join(DIR);
        let path = dir.join(FILE);
        let profile = Profile {
            url: Some("http://127.0.0.1:8080".into()),
            token: Some("secret".into()),
            key: Some("/keys/issuer.pem".into()),
        };
        save(&path, &profile).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(open_to_others(&path), None);
        assert_eq!(load(&path).unwrap(), Some(profile.clone()));

        // An existing profile others could read, in an open directory, is replaced privately.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(open_to_others(&path), Some(0o644));
        save(&path, &Profile::default()).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(load(&path).unwrap(), Some(Profile::default()));
    }

    #[test]
    fn a_missing_profile_is_none_and_a_broken_one_an_error_naming_it() {
        let scratch = tempfile::tempdir().unwrap();
        let path = scratch.path().join(FILE);
        assert_eq!(load(&path).unwrap(), None);
        std::fs::write(&path, "url = [").unwrap();
        let e = format!("{:#}", load(&path).unwrap_err());
        assert!(e.contains(&path.display().to_string()), "{e}");
    }

    #[test]
    fn a_file_where_the_directory_should_be_is_refused() {
        let scratch = tempfile::tempdir().unwrap();
        let dir = scratch.path().join(DIR);
        std::fs::write(&dir, "").unwrap();
        assert!(save(&dir.join(FILE), &Profile::default()).is_err());
    }
}
