//! Signing: hashing a component, issuing claims for it and embedding them.

use crate::claims::{Claims, WasmgateClaims};
use crate::error::{Error, Result};
use crate::key::SigningKey;
use crate::section::{self, Sections};
use crate::token;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};
use wasmgate_config::{Capability, HostPattern};

/// What to put in the claims when signing a component.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SignOptions {
    /// The function name the component is signed for (`sub`); must not be empty.
    pub name: String,
    /// The capabilities to grant.
    pub caps: Vec<Capability>,
    /// How long the signature stays valid; `None` never expires.
    pub expires_in: Option<Duration>,
    /// A version label to record in the claims.
    pub version: Option<String>,
    /// Labels to record in the claims.
    pub tags: Vec<String>,
    /// Host lists of granted network capabilities (see
    /// [`WasmgateClaims::allowed_hosts`]); each key must be in `caps`.
    pub allowed_hosts: BTreeMap<Capability, Vec<HostPattern>>,
    /// The audience (`aud`): the gateway or cluster the component is meant for.
    pub audience: Option<String>,
    /// The manifest the signer approves, as the exact bytes a deploy will send; its SHA-256 goes
    /// into the claims (see [`WasmgateClaims::manifest`]).
    pub manifest: Option<Vec<u8>>,
}

/// Signs a component or core module and returns it with the claims embedded.
///
/// Any existing top-level `jwt` section is removed first, so signing again replaces the old
/// signature. The claims hash the remaining bytes, and one `jwt` custom section holding the
/// compact JWT is appended at the end. `iat` and `nbf` are `now`, `exp` is `now + expires_in`,
/// and capabilities are recorded sorted and without duplicates.
pub fn sign(
    component: &[u8],
    key: &SigningKey,
    opts: &SignOptions,
    now: SystemTime,
) -> Result<Vec<u8>> {
    if opts.name.is_empty() {
        return Err(Error::InvalidSignOptions {
            reason: "the function name is empty; pass `--name NAME`".into(),
        });
    }
    check_allowed_hosts(opts)?;
    if opts.audience.as_deref().is_some_and(str::is_empty) {
        return Err(Error::InvalidSignOptions {
            reason: "the audience is empty; pass `--audience NAME` or leave it out".into(),
        });
    }
    let mut out = Sections::parse(component)?.stripped();
    let now = unix_secs(now);
    let exp = match opts.expires_in {
        None => None,
        Some(d) => Some(
            now.checked_add(d.as_secs())
                .ok_or_else(|| Error::InvalidSignOptions {
                    reason: format!("expiry {}s is too far in the future", d.as_secs()),
                })?,
        ),
    };
    let mut caps = opts.caps.clone();
    caps.sort_unstable();
    caps.dedup();
    let claims = Claims {
        iss: key.issuer().to_string(),
        sub: opts.name.clone(),
        iat: now,
        nbf: now,
        exp,
        aud: opts.audience.clone(),
        jti: uuid::Uuid::new_v4().to_string(),
        wasmgate: WasmgateClaims {
            hash: section::sha256_hex(&out),
            caps,
            version: opts.version.clone(),
            tags: opts.tags.clone(),
            allowed_hosts: opts.allowed_hosts.clone(),
            manifest: opts.manifest.as_deref().map(section::sha256_hex),
        },
    };
    let token = token::encode(&claims, key)?;
    section::append_token(&mut out, &token);
    Ok(out)
}

/// Refuses a host list for a capability that is not granted or cannot use it.
fn check_allowed_hosts(opts: &SignOptions) -> Result<()> {
    for (cap, hosts) in &opts.allowed_hosts {
        if !opts.caps.contains(cap) {
            return Err(Error::InvalidSignOptions {
                reason: format!("a host list for `{cap}`, which is not granted: add `--cap {cap}`"),
            });
        }
        cap.check_hosts(hosts)
            .map_err(|e| Error::InvalidSignOptions {
                reason: e.to_string(),
            })?;
    }
    Ok(())
}

/// Seconds since the Unix epoch; a time before the epoch counts as the epoch.
pub(crate) fn unix_secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests;
