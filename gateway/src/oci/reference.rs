//! `oci://REGISTRY/REPOSITORY[:TAG][@DIGEST]`: where a component lives in a registry.

use super::OciError;
use oci_spec::distribution::Reference;
use std::fmt;
use std::str::FromStr;

/// The scheme that marks a reference to a registry (as `wkg` and Spin write them).
pub const SCHEME: &str = "oci://";

/// Longest reference taken (the distribution spec bounds a repository name at 255 characters;
/// registry, tag and digest add at most a few hundred).
const MAX_REFERENCE_LEN: usize = 1024;

/// A parsed `oci://` reference: the registry must be named (no Docker Hub default), and a tag
/// or a `sha256` digest (or both) says which manifest.
///
/// The grammar is the distribution project's reference grammar, as the `oci-spec` crate parses
/// it (<https://github.com/distribution/reference/blob/main/reference.go>).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciReference {
    inner: Reference,
}

impl OciReference {
    /// The registry host as written, e.g. `ghcr.io` or `127.0.0.1:5000`.
    pub fn registry(&self) -> &str {
        self.inner.registry()
    }

    /// The repository, e.g. `acme/hello`.
    pub fn repository(&self) -> &str {
        self.inner.repository()
    }

    /// The tag, if one was given.
    pub fn tag(&self) -> Option<&str> {
        self.inner.tag()
    }

    /// The manifest digest, if the reference pins one.
    pub fn digest(&self) -> Option<&str> {
        self.inner.digest()
    }

    /// What names the manifest in `/v2/REPOSITORY/manifests/...`: the digest when there is
    /// one (it cannot move), else the tag.
    pub fn manifest_reference(&self) -> &str {
        self.digest().or(self.tag()).unwrap_or("latest")
    }
}

impl FromStr for OciReference {
    type Err = OciError;

    /// Parses `oci://REGISTRY/REPOSITORY:TAG`, `...@sha256:HEX` or both.
    ///
    /// # Errors
    /// [`OciError::BadReference`] naming what is wrong: the scheme, a missing registry or tag, or
    /// the grammar.
    fn from_str(text: &str) -> Result<Self, OciError> {
        let bad = |reason: &str| OciError::BadReference {
            reference: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.len() > MAX_REFERENCE_LEN {
            return Err(bad("it is longer than 1024 characters"));
        }
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("it does not start with oci://"))?;
        let (host, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("it names no repository after the registry"))?;
        // Without a dot, a port or `localhost` the grammar would read the host as a Docker Hub
        // namespace: a reference always names its registry here.
        if !(host.contains('.') || host.contains(':') || host == "localhost") {
            return Err(bad(
                "it names no registry host (a host has a dot or a port, e.g. ghcr.io or 127.0.0.1:5000)",
            ));
        }
        let name = path.split(['@', ':']).next().unwrap_or("");
        if !path.contains(':') {
            return Err(bad(&format!(
                "it has no tag or digest: add one, e.g. {SCHEME}{host}/{name}:1.0"
            )));
        }
        let inner = Reference::try_from(rest).map_err(|e| bad(&e.to_string()))?;
        if let Some(digest) = inner.digest()
            && !digest.starts_with("sha256:")
        {
            return Err(bad("only sha256 digests are taken"));
        }
        Ok(OciReference { inner })
    }
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry(), self.repository())?;
        if let Some(tag) = self.tag() {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = self.digest() {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn references_name_registry_repository_and_tag_or_digest() {
        let r: OciReference = "oci://ghcr.io/acme/hello:1.0".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("ghcr.io", "acme/hello", Some("1.0"), None)
        );
        assert_eq!(r.manifest_reference(), "1.0");
        assert_eq!(r.to_string(), "oci://ghcr.io/acme/hello:1.0");

        let pinned: OciReference = format!("oci://127.0.0.1:5000/hello@sha256:{HEX}")
            .parse()
            .unwrap();
        assert_eq!(pinned.registry(), "127.0.0.1:5000");
        assert_eq!(pinned.manifest_reference(), format!("sha256:{HEX}"));
        let both: OciReference = format!("oci://localhost/a/b:v2@sha256:{HEX}")
            .parse()
            .unwrap();
        assert_eq!(both.tag(), Some("v2"));
        assert_eq!(both.manifest_reference(), format!("sha256:{HEX}"));
    }

    #[test]
    fn bad_references_say_what_is_wrong() {
        for (text, says) in [
            ("ghcr.io/acme/hello:1.0", "oci://"),
            ("oci://ghcr.io", "no repository"),
            ("oci://acme/hello:1.0", "no registry host"),
            ("oci://ghcr.io/acme/hello", "no tag or digest"),
            ("oci://ghcr.io/Acme/hello:1.0", "invalid"),
            ("oci://ghcr.io/acme/hello@sha256:abc", "digest"),
            ("oci://ghcr.io/acme/hello:bad tag", "invalid"),
        ] {
            let e = text.parse::<OciReference>().unwrap_err().to_string();
            assert!(e.to_lowercase().contains(says), "{text}: {e}");
            assert!(e.contains("oci://REGISTRY/REPOSITORY:TAG"), "{e}");
        }
        let long = format!("oci://ghcr.io/{}:1", "a".repeat(2000));
        assert!(long.parse::<OciReference>().is_err());
    }
}
