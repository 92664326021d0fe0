//! Admission: may this component be deployed, and may this workload execute now?
//!
//! Deploy runs every check: the signature and its issuer, the module hash, expiry, the deploy
//! name against the signed `sub`, imports against granted capabilities, then the policies. Execute
//! asks the policies again at every cold start, and reuses a decision for `decision_ttl` while the
//! function stays warm, so a warm call pays one atomic load.

mod decision;
mod execute_cache;
mod input;
mod intent;
mod local_policy;
mod recorded;
mod remote_opa;
mod signature;
mod succession;

pub use decision::Decision;
pub use execute_cache::ExecuteCache;
pub use input::{Operation, PolicyInput, Source};
pub use local_policy::LocalPolicy;
pub use remote_opa::RemoteOpa;
pub use signature::Admitted;
pub use succession::{IssuerNames, check_downgrade, check_owner};

use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::metrics::Metrics;
use prometheus::{IntCounter, IntCounterVec};
use std::time::{Duration, SystemTime};
use wasmgate_claims::IssuerKey;
use wasmgate_config::{FunctionName, Settings};

/// Refuses claims whose `exp` has passed at `now` (403 `expired`): what every call of a deployed
/// function checks, one clock read and a comparison (see `benches/execute_cache.rs`).
pub fn not_expired(claims: &wasmgate_claims::Claims, now: SystemTime) -> Result<(), ApiError> {
    Ok(wasmgate_claims::check_expiry(claims, now)?)
}

/// The node's admission rules: trusted issuers, local Rego policies, an optional remote OPA.
pub struct Admission {
    decisions: IntCounterVec,
    execute_cached: IntCounter,
    trusted: Vec<IssuerKey>,
    local: LocalPolicy,
    remote: Option<RemoteOpa>,
    decision_ttl: Duration,
    settings: wasmgate_config::AdmissionSettings,
    issuer_names: IssuerNames,
}

impl Admission {
    /// Parses the trusted keys and compiles the policies named in `settings`.
    pub fn new(settings: &Settings, metrics: &Metrics) -> Result<Self, ApiError> {
        let trusted = settings
            .trusted_issuers
            .iter()
            .map(|k| k.parse::<IssuerKey>())
            .collect::<Result<Vec<_>, _>>()?;
        for issuer in settings.admission.issuer_names.keys() {
            if !settings.trusted_issuers.contains(issuer) {
                return Err(wasmgate_config::Error::InvalidSettings {
                    reason: format!(
                        "admission.issuer_names lists issuer {issuer}, which is not trusted: add it to trusted_issuers (or --trust), or remove its entry"
                    ),
                }
                .into());
            }
        }
        Ok(Admission {
            decisions: metrics.admission.clone(),
            execute_cached: metrics.admission.with_label_values(&["execute", "cached"]),
            trusted,
            local: LocalPolicy::load(&settings.policies)?,
            remote: settings
                .admission
                .opa
                .as_ref()
                .map(RemoteOpa::new)
                .transpose()?,
            decision_ttl: settings.admission.decision_ttl.get(),
            settings: settings.admission.clone(),
            issuer_names: IssuerNames::new(settings.admission.issuer_names.clone()),
        })
    }

    /// Checks the signature, issuer, hash, validity window, name and capabilities of `module`.
    /// CPU-bound (hashes the whole module): call it from a blocking thread.
    pub fn verify(
        &self,
        name: &FunctionName,
        module: &[u8],
        now: SystemTime,
    ) -> Result<Admitted, ApiError> {
        signature::verify(&self.trusted, name, module, now)
    }

    /// What the signature must cover beyond the bytes: a bounded validity, this gateway's
    /// audience, the manifest as sent (`manifest_sent`, the exact bytes) or only operator tuning
    /// in an unsigned one, and a name the issuer may sign. Pure: no I/O.
    pub fn check_intent(
        &self,
        admitted: &Admitted,
        manifest_sent: Option<&[u8]>,
        manifest: &wasmgate_config::Manifest,
        now: SystemTime,
    ) -> Result<(), ApiError> {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        intent::check_validity(&admitted.claims, &self.settings, now)?;
        intent::check_audience(&admitted.claims, &self.settings)?;
        intent::check_manifest(&admitted.claims, manifest_sent, manifest)?;
        self.issuer_names
            .check(&admitted.claims.sub, &admitted.claims.iss)
    }

    /// Refuses an issuer (public key text) this node does not trust (403 `untrusted_issuer`), as
    /// deploy does: [`NoTrustedIssuers`](wasmgate_claims::Error::NoTrustedIssuers) when it trusts
    /// none.
    pub fn check_trusted(&self, issuer: &str) -> Result<(), ApiError> {
        if self.trusted.is_empty() {
            return Err(wasmgate_claims::Error::NoTrustedIssuers.into());
        }
        let issuer: IssuerKey = issuer.parse()?;
        if !self.trusted.contains(&issuer) {
            return Err(wasmgate_claims::Error::UntrustedIssuer { issuer }.into());
        }
        Ok(())
    }

    /// Asks the local policies, then the remote OPA server if one is configured.
    pub async fn decide(&self, input: &PolicyInput<'_>) -> Result<(), ApiError> {
        let mut decision = self.local.decide(input)?;
        if let Some(remote) = &self.remote {
            decision = decision.and(remote.decide(input).await?);
        }
        decision.into_result(input.operation)
    }

    /// Whether `deployed` may run now. Never while it is down (see [`Deployed::serving`]). Then
    /// its claims: refused (403 `expired`) once their `exp` has passed, checked on every call
    /// (one clock read), and at every cold start refused when the issuer is no longer trusted
    /// (403 `untrusted_issuer`). Then the policies: answered from the cache while the function is
    /// warm and the last decision is younger than `decision_ttl`, otherwise by asking them.
    pub async fn may_execute(
        &self,
        deployed: &Deployed,
        source: Source<'_>,
    ) -> Result<(), ApiError> {
        deployed.serving()?;
        let claims = &deployed.record.claims;
        not_expired(claims, SystemTime::now())?;
        if !deployed.function.is_warm() {
            self.check_trusted(&claims.iss)?;
        }
        if !self.has_policies() {
            return Ok(());
        }
        let generation = self.local.generation();
        if deployed.function.is_warm() && deployed.execute.is_fresh(generation, &source) {
            self.execute_cached.inc();
            return Ok(());
        }
        let input = PolicyInput::execute(&deployed.record, source);
        let result = self.decide(&input).await;
        self.count(Operation::Execute, result.as_ref().map(|_| ()));
        if result.is_ok() {
            deployed
                .execute
                .remember(generation, self.decision_ttl, &source);
        }
        result
    }

    /// Counts a finished decision in `wasmgate_admission_decisions_total`.
    pub fn count(&self, operation: Operation, result: Result<(), &ApiError>) {
        let outcome = match result {
            Ok(()) => "allow",
            Err(
                ApiError::PolicyUnavailable { .. }
                | ApiError::Policy { .. }
                | ApiError::Internal { .. },
            ) => "error",
            Err(_) => "deny",
        };
        let operation = match operation {
            Operation::Deploy => "deploy",
            Operation::Execute => "execute",
        };
        self.decisions
            .with_label_values(&[operation, outcome])
            .inc();
    }

    /// Whether any policy (local or remote) is consulted; without one every workload is allowed.
    pub fn has_policies(&self) -> bool {
        self.local.is_loaded() || self.remote.is_some()
    }

    /// Recompiles the policy files (SIGHUP). A policy that fails to compile keeps the old set.
    pub fn reload(&self) {
        self.local.reload();
    }

    /// How many trusted issuers are configured.
    pub fn trusted_issuers(&self) -> usize {
        self.trusted.len()
    }
}
