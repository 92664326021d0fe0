//! Which stored bucket a guest's bucket name means: its own, or a shared one it was granted.

use crate::error::{Error, Result};
use std::collections::BTreeSet;

/// Longest bucket (or function) name accepted, in bytes.
///
/// Long enough for any descriptive name, short enough that stored names stay well inside
/// every backend's key limits.
pub const MAX_BUCKET_NAME_LEN: usize = 128;

/// The bucket a guest opens with the empty identifier `""`: `wasmtime serve -S keyvalue` serves
/// one store, opened with `""`, and Spin's `Store::open_default()` opens the bucket `default`, so
/// a component written for either finds its data in the same bucket here.
pub const DEFAULT_BUCKET: &str = "default";

/// The key-value namespace of one function.
///
/// A guest of function `f` signed by owner `o` ([`KvScope::owned`]) opening bucket `b` gets
/// the stored bucket `o/<o>/shared/b` when `b` is one of the function's shared grants, and its
/// private `o/<o>/fn/f/b` otherwise. So one function can never name another's private data, a
/// shared bucket is reachable only by functions of the same owner whose manifests both grant it,
/// and a name that changes owner starts from empty data. Functions deployed before owners
/// existed keep the unowned layout ([`KvScope::new`]: `shared/b` and `fn/f/b`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvScope {
    /// `""`, or `o/<owner>/` for an owned scope.
    root: String,
    function: String,
    shared: BTreeSet<String>,
}

impl KvScope {
    /// The scope of `function` with the shared buckets its manifest grants.
    ///
    /// Every name must be a valid bucket name (see [`KvScope::resolve`]).
    pub fn new<I, S>(function: impl Into<String>, shared: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let scope_err = |name: &str, reason| Error::InvalidScope {
            name: name.to_owned(),
            reason,
        };
        let function = function.into();
        check_name(&function).map_err(|reason| scope_err(&function, reason))?;
        let shared = shared
            .into_iter()
            .map(|name| {
                let name = name.into();
                check_name(&name).map_err(|reason| scope_err(&name, reason))?;
                Ok(name)
            })
            .collect::<Result<_>>()?;
        Ok(KvScope {
            root: String::new(),
            function,
            shared,
        })
    }

    /// The scope of `function` signed by `owner` (an opaque id of the issuer, such as a hex
    /// digest of its key: one bucket-name segment), with the shared buckets its manifest grants.
    pub fn owned<I, S>(owner: &str, function: impl Into<String>, shared: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        check_name(owner).map_err(|reason| Error::InvalidScope {
            name: owner.to_owned(),
            reason,
        })?;
        Ok(KvScope {
            root: format!("o/{owner}/"),
            ..KvScope::new(function, shared)?
        })
    }

    /// The prefix every private bucket of this function is stored under (`…fn/f/`): what a
    /// purge removes.
    pub fn private_prefix(&self) -> String {
        format!("{}fn/{}/", self.root, self.function)
    }

    /// The function this scope belongs to.
    pub fn function(&self) -> &str {
        &self.function
    }

    /// The shared buckets this function may open, sorted.
    pub fn shared(&self) -> impl Iterator<Item = &str> {
        self.shared.iter().map(String::as_str)
    }

    /// The stored name of the bucket a guest opens as `bucket`; `""` is [`DEFAULT_BUCKET`].
    ///
    /// Refuses names with `/` or control characters, and names longer than
    /// [`MAX_BUCKET_NAME_LEN`] bytes.
    pub fn resolve(&self, bucket: &str) -> Result<String> {
        let bucket = if bucket.is_empty() {
            DEFAULT_BUCKET
        } else {
            bucket
        };
        check_name(bucket).map_err(|reason| Error::InvalidBucket {
            name: bucket.to_owned(),
            reason,
        })?;
        Ok(if self.shared.contains(bucket) {
            format!("{}shared/{bucket}", self.root)
        } else {
            format!("{}{bucket}", self.private_prefix())
        })
    }
}

/// Why `name` cannot be a bucket name, if it cannot.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("must not be empty")
    } else if name.len() > MAX_BUCKET_NAME_LEN {
        Err("must be at most 128 bytes")
    } else if name.contains('/') {
        Err("must not contain '/'")
    } else if name.chars().any(char::is_control) {
        Err("must not contain control characters")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests;
