//! Putting a scenario's functions on a gateway: one component signed once per function name
//! (a gateway accepts a component only for the name it was signed for), then `PUT`.

use crate::admin::Admin;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressMode};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;
use tokio::task::JoinSet;
use wasmgate_claims::{SignOptions, SigningKey};

/// How long the load generator's signatures stay valid: a day outlasts any run.
pub const SIGNED_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Deploys in flight at once: enough to overlap signing, upload and the gateway's bookkeeping,
/// few enough that its compiler does not fight the rest of a 2-core machine.
const DEPLOY_CONCURRENCY: usize = 4;

/// A component and the issuer key to sign it with.
#[derive(Clone)]
pub struct Signer {
    component: Arc<[u8]>,
    key: Arc<SigningKey>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("Signer")
            .field("component_bytes", &self.component.len())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads the component at `wasm` and the PKCS#8 PEM issuer key at `key`
    /// (as written by `wasmgate keys generate`).
    pub fn load(wasm: &Path, key: &Path) -> Result<Signer> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| Error::Read {
                path: path.to_owned(),
                source,
            })
        };
        let component = read(wasm)?;
        let pem = String::from_utf8_lossy(&read(key)?).into_owned();
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|source| Error::Sign {
            name: String::new(),
            source,
        })?;
        Ok(Signer {
            component: component.into(),
            key: Arc::new(key),
        })
    }

    /// The component signed for function `name`, with no capabilities, valid for
    /// a day (`SIGNED_FOR`; gateways refuse signatures without an expiry by default).
    pub fn sign(&self, name: &str) -> Result<Vec<u8>> {
        let options = SignOptions {
            name: name.to_owned(),
            expires_in: Some(SIGNED_FOR),
            ..SignOptions::default()
        };
        wasmgate_claims::sign(&self.component, &self.key, &options, SystemTime::now()).map_err(
            |source| Error::Sign {
                name: name.to_owned(),
                source,
            },
        )
    }
}

/// Signs and deploys one function per name, with `manifest` if given, showing
/// "deploying 347/1000" while it works. Stops at the first refusal.
pub async fn deploy_all(
    admin: &Admin,
    signer: &Signer,
    names: &[String],
    manifest: Option<&str>,
    mode: ProgressMode,
) -> Result<()> {
    let done = Arc::new(AtomicUsize::new(0));
    let _progress = {
        let done = Arc::clone(&done);
        let total = names.len();
        let base = admin.base().to_owned();
        Progress::start(mode, move || {
            format!(
                "deploying {}/{total} to {base}",
                done.load(Ordering::Relaxed)
            )
        })
    };
    let manifest: Option<Arc<str>> = manifest.map(Into::into);
    let mut pending = names.iter();
    let mut tasks = JoinSet::new();
    loop {
        while tasks.len() < DEPLOY_CONCURRENCY {
            let Some(name) = pending.next() else { break };
            let (admin, signer, manifest) = (admin.clone(), signer.clone(), manifest.clone());
            let name = name.clone();
            tasks.spawn(async move {
                let signed = signer.sign(&name)?;
                admin.deploy(&name, signed, manifest.as_deref()).await
            });
        }
        match tasks.join_next().await {
            None => return Ok(()),
            Some(deployed) => {
                deployed??;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_carry_an_expiry_as_gateways_require() {
        let key = SigningKey::generate();
        let signer = Signer {
            // The empty component: magic, then version 0x0d and layer 1.
            component: b"\0asm\x0d\x00\x01\x00".as_slice().into(),
            key: Arc::new(key),
        };
        let signed = signer.sign("hello").unwrap();
        let token = wasmgate_claims::extract(&signed).unwrap().unwrap();
        let claims = wasmgate_claims::decode_unverified(&token).unwrap();
        assert_eq!(claims.exp, Some(claims.iat + SIGNED_FOR.as_secs()));
    }
}
