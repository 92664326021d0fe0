//! The document a policy sees as `input`.

use crate::registry::Record;
use serde::Serialize;
use wasmgate_claims::Claims;
use wasmgate_config::Manifest;

/// What is being decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    /// May this component be deployed under this name?
    Deploy,
    /// May this deployed workload run now?
    Execute,
}

impl std::fmt::Display for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Operation::Deploy => "deploy",
            Operation::Execute => "execute",
        })
    }
}

/// Where the work comes from.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Source<'a> {
    /// A deploy through the admin API.
    AdminApi,
    /// A message on a subject the function is triggered by.
    Event {
        /// The message's subject.
        subject: &'a str,
    },
    /// An HTTP request.
    Http {
        /// Its method.
        method: &'a str,
        /// Its path as the client sent it.
        path: &'a str,
    },
}

/// `input` of `data.wasmgate.admission`:
/// `{operation, function, claims, token, manifest, source}`.
#[derive(Debug, Serialize)]
pub struct PolicyInput<'a> {
    /// `deploy` or `execute`.
    pub operation: Operation,
    /// The function's name.
    pub function: &'a str,
    /// The verified claims.
    pub claims: &'a Claims,
    /// The raw JWT the claims came from.
    pub token: &'a str,
    /// The manifest deployed with it.
    pub manifest: &'a Manifest,
    /// Where the work comes from.
    pub source: Source<'a>,
}

impl<'a> PolicyInput<'a> {
    /// The input for running the deployed version `record`.
    pub fn execute(record: &'a Record, source: Source<'a>) -> Self {
        PolicyInput {
            operation: Operation::Execute,
            function: &record.name,
            claims: &record.claims,
            token: &record.token,
            manifest: &record.manifest,
            source,
        }
    }
}
