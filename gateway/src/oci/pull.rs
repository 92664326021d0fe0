//! The gateway's pull of a component named by a deploy: `{"oci": "oci://...", "digest": ...}`.
//!
//! The reference is chosen by whoever deploys, so the pull is an outgoing request on their
//! behalf and goes through the egress guard like an async call's callback: the registry, its
//! token service and any redirect must resolve to public addresses or to ranges the operator
//! opened (`[egress] allow`). What arrives is hashed against the manifest's digests (and the
//! deploy's pin), bounded by `max_module_size`, and then admitted like an upload: the signature
//! inside the component is what decides whether it runs.

use super::distribution::{Credentials, Repository};
use super::{OciError, OciReference, artifact};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::time::Duration;
use wasmgate_config::{IpRange, Settings};

/// Time for a whole pull: token, manifest and component (a deploy waits for it).
pub const PULL_TIMEOUT: Duration = Duration::from_secs(120);

/// How the gateway pulls: per-registry credentials and schemes, and the egress guard's ranges.
pub struct Puller {
    registries: BTreeMap<String, Access>,
    opened: Vec<IpRange>,
    http: reqwest::Client,
}

/// One registry's credentials and scheme, read from the settings and the environment.
struct Access {
    credentials: Option<Credentials>,
    plain_http: bool,
}

/// A pulled component.
#[derive(Debug)]
pub struct Pulled {
    /// The component's bytes (the signed component, as pushed).
    pub component: Bytes,
    /// `sha256:HEX` of the component.
    pub digest: String,
    /// `sha256:HEX` of the manifest it was found by.
    pub manifest_digest: String,
}

impl Puller {
    /// Reads `[registries]` and each `password_env` variable through `env`.
    ///
    /// # Errors
    /// A message naming the registry and the variable when a `password_env` is not set, or when
    /// the HTTP client cannot be built; the gateway does not start.
    pub fn new(
        settings: &Settings,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Puller, String> {
        let mut registries = BTreeMap::new();
        for (host, registry) in &settings.registries {
            let credentials = match (&registry.username, &registry.password_env) {
                (Some(username), Some(var)) => Some(Credentials {
                    username: username.clone(),
                    password: env(var).ok_or_else(|| {
                        format!(
                            "registries.\"{host}\".password_env names {var}, which is not set: set it to the registry's password or token, or remove the credentials for anonymous pulls"
                        )
                    })?,
                }),
                _ => None,
            };
            registries.insert(
                host.clone(),
                Access {
                    credentials,
                    plain_http: registry.plain_http,
                },
            );
        }
        let http = crate::egress_client::client(&settings.egress.allow, PULL_TIMEOUT)
            .map_err(|e| format!("cannot build the registry client: {e}"))?;
        Ok(Puller {
            registries,
            opened: settings.egress.allow.clone(),
            http,
        })
    }

    /// Pulls the component of `reference`; `pin` (`sha256:HEX`) must be its digest when given.
    /// At most `limit` bytes are taken.
    ///
    /// # Errors
    /// Every [`OciError`]: the guard's refusal, the registry's answers, an artifact that is not
    /// one component, a size over `limit`, a digest other than the pin.
    pub async fn pull(
        &self,
        reference: &OciReference,
        pin: Option<&str>,
        limit: u64,
    ) -> Result<Pulled, OciError> {
        let shown = reference.to_string();
        let access = self.registries.get(reference.registry());
        let opened = self.opened.clone();
        let registry = reference.registry().to_owned();
        let check = Box::new(move |url: &reqwest::Url| {
            crate::egress_client::check_url(url, &opened).map_err(|refusal| {
                OciError::EgressRefused {
                    registry: registry.clone(),
                    reason: refusal.to_string(),
                }
            })
        });
        let repository = Repository::new(
            self.http.clone(),
            reference.registry(),
            reference.repository(),
            access.is_some_and(|a| a.plain_http),
            false,
            access.and_then(|a| a.credentials.clone()),
            check,
        )?;
        let manifest = repository
            .manifest(reference.manifest_reference(), &shown)
            .await?;
        let layer = artifact::component_layer(&shown, &manifest)?;
        let digest = layer.digest().to_string();
        if let Some(pin) = pin
            && pin != digest
        {
            return Err(OciError::PinMismatch {
                reference: shown,
                expected: pin.to_owned(),
                actual: digest,
            });
        }
        if layer.size() > limit {
            return Err(OciError::TooLarge {
                reference: shown,
                size: layer.size(),
                limit,
            });
        }
        let component = repository.blob(&digest, layer.size(), &shown).await?;
        Ok(Pulled {
            component,
            digest,
            manifest_digest: artifact::sha256(&manifest),
        })
    }
}
