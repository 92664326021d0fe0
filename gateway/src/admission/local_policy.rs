//! Rego policies evaluated in process with regorus: package `wasmgate.admission`, rules `allow`
//! (boolean) and `deny` (set of reasons).

use super::{Decision, PolicyInput};
use crate::error::ApiError;
use arc_swap::ArcSwapOption;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The query whose value is the whole admission package.
const QUERY: &str = "data.wasmgate.admission";

/// The compiled policy files; swapped whole on reload.
pub struct LocalPolicy {
    files: Vec<PathBuf>,
    engine: ArcSwapOption<regorus::Engine>,
    generation: AtomicU64,
}

impl LocalPolicy {
    /// Compiles `files`; none leaves every decision to `allow`.
    pub fn load(files: &[PathBuf]) -> Result<Self, ApiError> {
        let engine = compile(files).map_err(|reason| ApiError::Policy { reason })?;
        Ok(LocalPolicy {
            files: files.to_vec(),
            engine: ArcSwapOption::new(engine.map(Arc::new)),
            generation: AtomicU64::new(0),
        })
    }

    /// Whether any policy file is loaded.
    pub fn is_loaded(&self) -> bool {
        self.engine.load().is_some()
    }

    /// Changes on every successful reload, invalidating cached decisions.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Recompiles the files; on failure keeps the policies in force and logs why.
    pub fn reload(&self) {
        match compile(&self.files) {
            Ok(engine) => {
                self.engine.store(engine.map(Arc::new));
                self.generation.fetch_add(1, Ordering::AcqRel);
                tracing::info!(files = self.files.len(), "admission policies reloaded");
            }
            Err(reason) => {
                tracing::error!(%reason, "admission policies not reloaded; the previous ones stay in force");
            }
        }
    }

    /// Evaluates the package against `input`.
    pub fn decide(&self, input: &PolicyInput<'_>) -> Result<Decision, ApiError> {
        let Some(engine) = self.engine.load_full() else {
            return Ok(Decision::allowed());
        };
        let input = serde_json::to_string(input).map_err(|e| ApiError::Internal {
            reason: format!("policy input: {e}"),
        })?;
        // A clone shares the compiled modules; it only gives this evaluation its own input.
        let mut engine = (*engine).clone();
        let failed = |e: anyhow::Error| ApiError::Policy {
            reason: format!("evaluating {QUERY}: {e}"),
        };
        engine.set_input_json(&input).map_err(failed)?;
        let results = engine.eval_query(QUERY.to_owned(), false).map_err(failed)?;
        let package = results
            .result
            .first()
            .and_then(|r| r.expressions.first())
            .map(|e| serde_json::to_value(&e.value))
            .transpose()
            .map_err(|e| ApiError::Policy {
                reason: format!("policy result: {e}"),
            })?;
        Ok(decision_from(package.as_ref()))
    }
}

/// Reads `allow` and `deny` out of the package document (missing package: allowed).
pub(super) fn decision_from(package: Option<&serde_json::Value>) -> Decision {
    let Some(package) = package else {
        return Decision::allowed();
    };
    let allow = package
        .get("allow")
        .map(|v| v.as_bool() == Some(true))
        .unwrap_or(true);
    let reasons = match package.get("deny") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Some(serde_json::Value::Null) | None => Vec::new(),
        Some(other) => vec![other.to_string()],
    };
    Decision { allow, reasons }
}

fn compile(files: &[PathBuf]) -> Result<Option<regorus::Engine>, String> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut engine = regorus::Engine::new();
    for file in files {
        engine
            .add_policy_from_file(file)
            .map_err(|e| format!("policy {}: {e}", file.display()))?;
    }
    // Compile now, so a broken policy is reported at load and not on the first request.
    engine
        .eval_query(QUERY.to_owned(), false)
        .map_err(|e| format!("policies do not evaluate: {e}"))?;
    Ok(Some(engine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admission::{Operation, Source};
    use wasmgate_claims::{Claims, WasmgateClaims};
    use wasmgate_config::Manifest;

    fn claims() -> Claims {
        Claims {
            iss: "issuer".into(),
            sub: "hello".into(),
            iat: 0,
            nbf: 0,
            exp: None,
            aud: None,
            jti: "j".into(),
            wasmgate: WasmgateClaims {
                hash: "00".into(),
                caps: vec![],
                version: None,
                tags: vec!["team-a".into()],
                allowed_hosts: Default::default(),
                manifest: None,
            },
        }
    }

    fn decide(rego: &str, function: &str) -> Decision {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.rego");
        std::fs::write(&path, rego).unwrap();
        let policy = LocalPolicy::load(&[path]).unwrap();
        let (claims, manifest) = (claims(), Manifest::default());
        policy
            .decide(&PolicyInput {
                operation: Operation::Deploy,
                function,
                claims: &claims,
                token: "t",
                manifest: &manifest,
                source: Source::AdminApi,
            })
            .unwrap()
    }

    const POLICY: &str = r#"
package wasmgate.admission

default allow := false
allow if input.claims.wasmgate.tags[_] == "team-a"

deny contains msg if {
    startswith(input.function, "admin-")
    msg := sprintf("function %s: admin- names are reserved", [input.function])
}
"#;

    #[test]
    fn allow_and_deny_come_from_the_input() {
        assert_eq!(decide(POLICY, "hello"), Decision::allowed());
        let denied = decide(POLICY, "admin-x");
        assert!(denied.allow);
        assert_eq!(
            denied.reasons,
            ["function admin-x: admin- names are reserved"]
        );
    }

    #[test]
    fn the_example_policy_compiles_and_decides() {
        let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../config/examples/admission.rego");
        let policy = LocalPolicy::load(&[example]).unwrap();
        let manifest = Manifest::default();
        let mut claims = claims();
        let decide = |claims: &Claims| {
            policy
                .decide(&PolicyInput {
                    operation: Operation::Deploy,
                    function: "sys-x",
                    claims,
                    token: "t",
                    manifest: &manifest,
                    source: Source::AdminApi,
                })
                .unwrap()
        };
        let denied = decide(&claims);
        assert_eq!(denied.reasons.len(), 2, "{denied:?}");
        claims.wasmgate.tags = vec!["platform".into()];
        claims.exp = Some(claims.iat + 3600);
        assert_eq!(decide(&claims), Decision::allowed());
    }

    #[test]
    fn no_files_allow_everything() {
        let policy = LocalPolicy::load(&[]).unwrap();
        assert!(!policy.is_loaded());
    }

    #[test]
    fn a_policy_that_does_not_compile_is_refused_at_load_and_kept_out_on_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.rego");
        std::fs::write(&path, "package wasmgate.admission\nallow := [").unwrap();
        assert!(matches!(
            LocalPolicy::load(std::slice::from_ref(&path)),
            Err(ApiError::Policy { .. })
        ));

        std::fs::write(&path, POLICY).unwrap();
        let policy = LocalPolicy::load(std::slice::from_ref(&path)).unwrap();
        let generation = policy.generation();
        std::fs::write(&path, "package wasmgate.admission\nallow := [").unwrap();
        policy.reload();
        assert_eq!(
            policy.generation(),
            generation,
            "the broken reload did not take"
        );
        assert!(policy.is_loaded());
        std::fs::write(&path, "package wasmgate.admission\nallow := true\n").unwrap();
        policy.reload();
        assert_eq!(policy.generation(), generation + 1);
    }

    #[test]
    fn package_documents_map_to_decisions() {
        assert_eq!(decision_from(None), Decision::allowed());
        let v = serde_json::json!({"deny": ["a", 3]});
        assert_eq!(
            decision_from(Some(&v)),
            Decision {
                allow: true,
                reasons: vec!["a".into(), "3".into()]
            }
        );
        let v = serde_json::json!({"allow": false});
        assert!(!decision_from(Some(&v)).allow);
    }
}
