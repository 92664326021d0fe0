//! The one place where every failure becomes an HTTP status, a stable code and a JSON body.

use crate::response::{GatewayResponse, json};
use http::{HeaderValue, StatusCode, header};
use serde_json::json;
use wasmgate_config::shown;
use wasmgate_pool::Blame;

/// Seconds a saturated caller is told to wait before retrying.
const RETRY_AFTER_SECONDS: &str = "1";

/// Every error the HTTP API can answer with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// A setting, name or manifest failed validation.
    #[error(transparent)]
    Config(#[from] wasmgate_config::Error),
    /// The request is malformed in a way no other variant names.
    #[error("bad request: {reason}")]
    BadRequest {
        /// What is wrong with it.
        reason: String,
    },
    /// The deploy body has a content type the admin API does not take.
    #[error(
        "unsupported content type {content_type:?}: send application/wasm, multipart/form-data, or application/json naming an oci:// reference"
    )]
    UnsupportedMediaType {
        /// The content type that was sent.
        content_type: String,
    },
    /// A `[config]` value names an environment variable the gateway does not have.
    #[error("config.{key} reads the gateway's environment variable {env}, which is not set")]
    ConfigEnv {
        /// The config key.
        key: String,
        /// The variable it reads.
        env: String,
    },
    /// A `[config]` value names an environment variable outside the operator's `[secrets] env`
    /// list. The message is the same whether or not the variable exists.
    #[error(
        "config.{key} reads the gateway's environment variable {}, which the operator does not allow: ask them to add it (or a prefix pattern such as `APP_*`) to `[secrets] env` in the gateway's settings",
        shown(env)
    )]
    SecretNotAllowed {
        /// The config key.
        key: String,
        /// The variable it reads.
        env: String,
    },
    /// An async call's body is over `async_calls.max_body`.
    #[error(
        "the async call body exceeds the limit of {limit} bytes (async_calls.max_body, or a lower http.max_request_body): send less, or pass a reference to the data"
    )]
    AsyncBodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A function already has `async_calls.max_queued` async calls accepted and unfinished.
    #[error(
        "function {} has {limit} async calls waiting, its limit (async_calls.max_queued): retry later",
        shown(function)
    )]
    AsyncQueueFull {
        /// The function called.
        function: String,
        /// The limit.
        limit: u32,
    },
    /// The body is (or is announced as) over the configured limit.
    #[error(
        "the body exceeds the limit of {limit} bytes ({setting}): send less, or ask the operator to raise {setting}"
    )]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
        /// The setting the limit comes from.
        setting: &'static str,
    },
    /// The request line and header fields are over `http.max_header_size`.
    #[error("the request head is {size} bytes; the limit is {limit} bytes (http.max_header_size)")]
    HeaderTooLarge {
        /// Its size, as sent.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The request has more header fields than `http.max_headers`.
    #[error("the request has {count} header fields; the limit is {limit} (http.max_headers)")]
    TooManyHeaders {
        /// How many it has.
        count: usize,
        /// The limit.
        limit: u32,
    },
    /// The client did not send its body in time.
    #[error("the request body did not arrive within {seconds}s (http.body_read_timeout)")]
    BodyTimeout {
        /// The limit in seconds.
        seconds: f64,
    },
    /// A manifest route is already served by another function.
    #[error("route {route} is already served by function {owner}")]
    RouteConflict {
        /// The contested route.
        route: String,
        /// The function that holds it.
        owner: String,
    },
    /// No function of that name is deployed.
    #[error("no function named {}", shown(name))]
    FunctionNotFound {
        /// The name asked for.
        name: String,
    },
    /// A `PUT /functions/{name}/traffic` body that does not name kept versions with weights
    /// summing to 100.
    #[error("invalid traffic: {reason}")]
    InvalidTraffic {
        /// What is wrong and how to write it.
        reason: String,
    },
    /// A rollback or a call by tag names a version the function does not have.
    #[error(
        "function {} has no version {version}{}",
        shown(name),
        if kept.is_empty() {
            ": call it without a tag, or put the version in its traffic (weight 0 is enough) first".to_owned()
        } else {
            format!(": kept versions are {} (GET /functions/NAME/versions)", kept.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        }
    )]
    VersionNotFound {
        /// The function.
        name: String,
        /// The version asked for.
        version: u64,
        /// The versions kept, when the question was about kept versions; empty for a call by tag,
        /// which reaches live versions only.
        kept: Vec<u64>,
    },
    /// A rollback without a version, with no kept version older than the live one.
    #[error(
        "function {} has no version older than the live version {live} to roll back to: name one with {{\"version\": K}} (GET /functions/NAME/versions)",
        shown(name)
    )]
    NoPreviousVersion {
        /// The function.
        name: String,
        /// Its live version.
        live: u64,
    },
    /// A version's `[health]` check failed before it took traffic: it takes none.
    #[error(
        "version {version} of {} failed its health check and takes no traffic: {reason}; fix the function or its [health] section and deploy again",
        shown(name)
    )]
    HealthCheckFailed {
        /// The function.
        name: String,
        /// The version checked.
        version: u64,
        /// What the check saw.
        reason: String,
    },
    /// An admin act this node does not do in cluster mode yet.
    #[error(
        "{operation} is not available in cluster mode yet: roll back (POST /functions/NAME/rollback) or deploy the version you want instead; both are shared by every node"
    )]
    NotInCluster {
        /// What was asked for.
        operation: &'static str,
    },
    /// Nothing is served at this path.
    #[error("nothing is served at {}", shown(path))]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path exists but not for this method.
    #[error("method {method} is not allowed here")]
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// The bearer token the path needs is missing or wrong (RFC 6750 §3.1 `invalid_token`).
    #[error("missing or wrong bearer token: {needs}")]
    Unauthorized {
        /// Which token the path takes and where to find it.
        needs: &'static str,
    },
    /// The gateway is draining for shutdown.
    #[error("gateway is shutting down")]
    ShuttingDown,
    /// The component's claims are missing, invalid, untrusted, expired or do not match its bytes.
    #[error(transparent)]
    Claims(#[from] wasmgate_claims::Error),
    /// The component was signed for another function name.
    #[error(
        "the component was signed for function {signed_for:?}, not {name:?}: sign it with --name {name}"
    )]
    NameMismatch {
        /// The name deployed to.
        name: String,
        /// The `sub` of its claims.
        signed_for: String,
    },
    /// Another issuer owns the function name.
    #[error(
        "function {} belongs to issuer {owner}: only its owner may deploy it; an admin may delete the function or transfer the name (PUT /functions/{}/owner)",
        shown(name),
        shown(name)
    )]
    NameOwned {
        /// The name deployed to.
        name: String,
        /// The issuer that owns it.
        owner: String,
    },
    /// The operator's `[admission.issuer_names]` does not give this issuer the name.
    #[error(
        "issuer {issuer} may sign only the names {}: function {} is not one of them; sign it with a key that owns the name, or ask the operator to extend admission.issuer_names",
        patterns.join(", "), shown(name)
    )]
    NameNotAllowed {
        /// The name deployed to.
        name: String,
        /// The signing issuer.
        issuer: String,
        /// The names it may sign.
        patterns: Vec<String>,
    },
    /// The signed manifest hash does not match the manifest sent.
    #[error("the manifest is not the one that was signed: {reason}")]
    ManifestMismatch {
        /// What differs and how to fix it.
        reason: String,
    },
    /// An unsigned manifest uses keys that widen what the code reaches.
    #[error(
        "the manifest sets {} without a signature: these widen what the code reaches, so sign the manifest with the component (`wasmgate sign --manifest FILE`) or leave them out",
        keys.join(", ")
    )]
    ManifestUnsigned {
        /// The widening keys it sets.
        keys: Vec<String>,
    },
    /// The claims have no `exp` and the operator requires one.
    #[error(
        "the component's signature never expires, and this gateway requires an expiry: sign it with `--expires 90d` (at most admission.max_validity)"
    )]
    ExpiryRequired,
    /// The claims are valid for longer than `[admission] max_validity`.
    #[error(
        "the component's signature is valid for {}, longer than this gateway accepts ({}, admission.max_validity): sign it with a shorter --expires",
        humantime::format_duration(*valid_for), humantime::format_duration(*max)
    )]
    ValidityTooLong {
        /// How long the signature claims to be valid, from `iat` (or now, if earlier).
        valid_for: std::time::Duration,
        /// The operator's bound.
        max: std::time::Duration,
    },
    /// The claims name another audience than this gateway's.
    #[error(
        "the component was signed for audience {}, and this gateway is {}: sign it with {}",
        signed_for.as_deref().map_or("(none)".to_owned(), |a| format!("{:?}", shown(a))),
        expected.as_deref().map_or("(no audience)".to_owned(), |a| format!("{:?}", shown(a))),
        expected.as_deref().map_or("no --audience".to_owned(), |a| format!("--audience {}", shown(a)))
    )]
    AudienceMismatch {
        /// This gateway's `[admission] audience`.
        expected: Option<String>,
        /// The claims' `aud`.
        signed_for: Option<String>,
    },
    /// The component was signed before the version it would replace (a rollback).
    #[error(
        "the component was signed at {iat} (Unix seconds), before the deployed version ({deployed_iat}): an older build may not replace a newer one; sign it again, or, as an admin, deploy with ?allow_downgrade=true"
    )]
    Downgrade {
        /// The new component's `iat`.
        iat: u64,
        /// The deployed version's `iat`.
        deployed_iat: u64,
    },
    /// `POST /publish` on a subject the host keeps for itself (`wasmgate.>`, `_INBOX.>`).
    #[error(
        "subject {subject:?} is reserved for the gateway (wasmgate.> and _INBOX.> carry dead letters and replies): publish on a subject of your own"
    )]
    ReservedSubject {
        /// The subject asked for.
        subject: String,
    },
    /// The component imports interfaces its claims do not grant.
    #[error("capability not granted: the component imports {} without a grant for it; sign it with the matching --cap", interfaces.join(", "))]
    NotGranted {
        /// The ungranted interfaces, sorted.
        interfaces: Vec<String>,
    },
    /// An admission policy refused.
    #[error("{operation} denied by policy: {}", reasons.join("; "))]
    PolicyDenied {
        /// What was refused.
        operation: crate::admission::Operation,
        /// The policy's reasons.
        reasons: Vec<String>,
    },
    /// The remote policy server could not be asked, and admission fails closed.
    #[error("admission policy unavailable: {reason}")]
    PolicyUnavailable {
        /// Why.
        reason: String,
    },
    /// A policy file does not compile or evaluate.
    #[error("admission policy error: {reason}")]
    Policy {
        /// The policy engine's message.
        reason: String,
    },
    /// `POST /publish` with a CloudEvents media type the gateway does not read: a batch
    /// (`application/cloudevents-batch+json`) or a format other than JSON and protobuf.
    #[error(
        "{media_type} is not accepted: publish each event on its own, in binary mode (ce-* headers) or structured mode (application/cloudevents+json or application/cloudevents+protobuf)"
    )]
    EventFormat {
        /// The media type sent (type/subtype, lowercased).
        media_type: String,
    },
    /// The message bus refused or failed.
    #[error(transparent)]
    Bus(#[from] wasmgate_capabilities::messaging::Error),
    /// Running, compiling or loading a function failed.
    #[error(transparent)]
    Pool(#[from] wasmgate_pool::Error),
    /// A function restored at start failed its re-verification (or could not be rebuilt): it
    /// stays registered and refuses calls until it is deployed again or the cause is fixed.
    #[error(
        "function {} is down since the gateway started: {}; deploy it again, or delete it",
        shown(function),
        cause.public_message(None)
    )]
    FunctionDown {
        /// The function's name.
        function: String,
        /// Why restore refused it, as deploy would have refused it.
        cause: std::sync::Arc<ApiError>,
    },
    /// A stored signed original no longer hashes to the digest recorded at deploy: it was changed
    /// on disk.
    #[error(
        "the stored original of function {} was modified after it was deployed: recorded {expected}, found {actual}",
        shown(function)
    )]
    OriginalTampered {
        /// The function's name.
        function: String,
        /// The digest recorded at deploy.
        expected: String,
        /// The digest of the file as found.
        actual: String,
    },
    /// A deploy would take the node past one of its `[quotas]`; nothing changed.
    #[error(
        "quota exceeded: this deploy would bring {} to {used}, over the node's quota of {limit} (quotas.{}): {}",
        quota_subject(*quota),
        quota.key(),
        quota_remedy(*quota)
    )]
    QuotaExceeded {
        /// Which quota.
        quota: crate::quotas::Quota,
        /// What the node would use with this deploy (functions or bytes).
        used: u64,
        /// The quota.
        limit: u64,
    },
    /// Another node deployed or deleted this name between this deploy's start and its write to
    /// the cluster's registry (compare-and-swap lost); nothing changed here.
    #[error(
        "function {} was changed on another node while this deploy ran: nothing was changed; read GET /functions/{} and deploy again if this version should win",
        shown(name),
        shown(name)
    )]
    ConcurrentDeploy {
        /// The function's name.
        name: String,
    },
    /// The cluster's NATS JetStream did not answer a change that must be shared (deploy, delete).
    #[error("the cluster's shared registry is unavailable: {reason}")]
    ClusterUnavailable {
        /// The client's message.
        reason: String,
    },
    /// A call forwarded to its home node failed after it was sent, and could not be served here
    /// instead (not idempotent: it may have run there).
    #[error(
        "the call was sent to node {} of the cluster, which failed before it answered: {reason}; it may or may not have run",
        shown(node)
    )]
    ForwardFailed {
        /// The home node's id.
        node: String,
        /// The client's message.
        reason: String,
    },
    /// `/cluster` was asked of a node that runs alone.
    #[error(
        "this gateway runs alone, not in a cluster: start it with --cluster nats://HOST:PORT --node-id ID --advertise URL"
    )]
    NotClustered,
    /// A request claimed to be forwarded by a peer but did not carry the cluster's token.
    #[error(
        "the request names a forwarding node (wasmgate-forwarded-by) without the cluster's token: only wasmgate nodes of this cluster may send that header"
    )]
    ClusterAuth,
    /// A deploy's pull from an OCI registry failed; every such failure is the deployer's to
    /// see, since the deploy chose the registry.
    #[error(transparent)]
    Oci(#[from] crate::oci::OciError),
    /// The registry database failed.
    #[error("registry storage failed: {reason}")]
    Storage {
        /// The database's message.
        reason: String,
    },
    /// A bug or an unexpected host failure.
    #[error("internal error: {reason}")]
    Internal {
        /// What failed.
        reason: String,
    },
}

/// What a quota counts, for its refusal message.
fn quota_subject(quota: crate::quotas::Quota) -> &'static str {
    use crate::quotas::Quota;
    match quota {
        Quota::Functions => "the functions deployed on this node",
        Quota::StoredBytes => "the bytes of compiled code and signed originals stored on this node",
        Quota::KvBytes => "the key-value bytes of this function",
        Quota::BacklogMessages => "the messages waiting for a subscription",
        Quota::BacklogBytes => "the bytes waiting for a subscription",
    }
}

/// How the deployer gets past a quota, for its refusal message.
fn quota_remedy(quota: crate::quotas::Quota) -> &'static str {
    use crate::quotas::Quota;
    match quota {
        Quota::Functions => {
            "delete a function you no longer need, or ask the operator to raise the quota"
        }
        _ => {
            "delete functions you no longer need, deploy smaller code, or ask the operator to raise the quota"
        }
    }
}

impl ApiError {
    /// Status, stable code and blame for this error: the whole error-to-HTTP table.
    pub fn classify(&self) -> (StatusCode, &'static str, Blame) {
        use wasmgate_pool::Error as P;
        match self {
            ApiError::Config(e) => (StatusCode::BAD_REQUEST, e.code(), Blame::Client),
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "bad_request", Blame::Client),
            ApiError::ConfigEnv { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_manifest", Blame::Client)
            }
            ApiError::UnsupportedMediaType { .. } | ApiError::EventFormat { .. } => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                Blame::Client,
            ),
            // Like any manifest asking for what this node does not offer (a memory limit above
            // `pool.max_memory`): the manifest is refused here, the message says who can change it.
            ApiError::SecretNotAllowed { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_manifest", Blame::Client)
            }
            ApiError::AsyncBodyTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Blame::Client,
            ),
            ApiError::AsyncQueueFull { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "async_queue_full",
                Blame::Client,
            ),
            ApiError::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                Blame::Client,
            ),
            ApiError::BodyTimeout { .. } => {
                (StatusCode::REQUEST_TIMEOUT, "body_timeout", Blame::Client)
            }
            ApiError::HeaderTooLarge { .. } => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "header_too_large",
                Blame::Client,
            ),
            ApiError::TooManyHeaders { .. } => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "too_many_headers",
                Blame::Client,
            ),
            ApiError::RouteConflict { .. } => {
                (StatusCode::CONFLICT, "route_conflict", Blame::Client)
            }
            ApiError::FunctionNotFound { .. } => {
                (StatusCode::NOT_FOUND, "function_not_found", Blame::Client)
            }
            ApiError::InvalidTraffic { .. } => {
                (StatusCode::BAD_REQUEST, "invalid_traffic", Blame::Client)
            }
            ApiError::VersionNotFound { .. } => {
                (StatusCode::NOT_FOUND, "version_not_found", Blame::Client)
            }
            ApiError::NoPreviousVersion { .. } => {
                (StatusCode::CONFLICT, "no_previous_version", Blame::Client)
            }
            ApiError::HealthCheckFailed { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "health_check_failed",
                Blame::Client,
            ),
            ApiError::NotInCluster { .. } => {
                (StatusCode::NOT_IMPLEMENTED, "not_in_cluster", Blame::Client)
            }
            ApiError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found", Blame::Client),
            ApiError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                Blame::Client,
            ),
            ApiError::Unauthorized { .. } => {
                (StatusCode::UNAUTHORIZED, "unauthorized", Blame::Client)
            }
            ApiError::ShuttingDown => (
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting_down",
                Blame::Host,
            ),
            ApiError::Claims(e) => {
                let status = match e.code() {
                    "unsigned" | "bad_signature" => StatusCode::UNAUTHORIZED,
                    "untrusted_issuer" | "expired" | "not_yet_valid" => StatusCode::FORBIDDEN,
                    "module_tampered" | "invalid_component" => StatusCode::UNPROCESSABLE_ENTITY,
                    _ => StatusCode::BAD_REQUEST,
                };
                (status, e.code(), Blame::Client)
            }
            ApiError::NameMismatch { .. } => {
                (StatusCode::FORBIDDEN, "name_mismatch", Blame::Client)
            }
            ApiError::ReservedSubject { .. } => {
                (StatusCode::FORBIDDEN, "reserved_subject", Blame::Client)
            }
            ApiError::NameOwned { .. } => (StatusCode::FORBIDDEN, "name_owned", Blame::Client),
            ApiError::NameNotAllowed { .. } => {
                (StatusCode::FORBIDDEN, "name_not_allowed", Blame::Client)
            }
            ApiError::ManifestMismatch { .. } => {
                (StatusCode::FORBIDDEN, "manifest_mismatch", Blame::Client)
            }
            ApiError::ManifestUnsigned { .. } => {
                (StatusCode::FORBIDDEN, "manifest_unsigned", Blame::Client)
            }
            ApiError::ExpiryRequired => (StatusCode::FORBIDDEN, "expiry_required", Blame::Client),
            ApiError::ValidityTooLong { .. } => {
                (StatusCode::FORBIDDEN, "validity_too_long", Blame::Client)
            }
            ApiError::AudienceMismatch { .. } => {
                (StatusCode::FORBIDDEN, "audience_mismatch", Blame::Client)
            }
            ApiError::Downgrade { .. } => (StatusCode::CONFLICT, "downgrade", Blame::Client),
            ApiError::NotGranted { .. } | ApiError::Pool(P::NotGranted { .. }) => (
                StatusCode::FORBIDDEN,
                "capability_not_granted",
                Blame::Client,
            ),
            ApiError::PolicyDenied { .. } => {
                (StatusCode::FORBIDDEN, "policy_denied", Blame::Client)
            }
            ApiError::PolicyUnavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "policy_unavailable",
                Blame::Host,
            ),
            ApiError::Policy { .. } => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "policy_error",
                Blame::Host,
            ),
            ApiError::Bus(e) => {
                let (status, blame) = match e.code() {
                    "invalid_subject" | "invalid_pattern" | "invalid_queue"
                    | "invalid_metadata" | "invalid_event" => {
                        (StatusCode::BAD_REQUEST, Blame::Client)
                    }
                    "message_too_large" => (StatusCode::PAYLOAD_TOO_LARGE, Blame::Client),
                    // RFC 9110 §15.6.4: a temporary overload that clears as the subscriber catches
                    // up, so 503 with `Retry-After`; not 429, which would blame this client's
                    // rate for a backlog other publishers may have filled.
                    "backlog_full" => (StatusCode::SERVICE_UNAVAILABLE, Blame::Client),
                    _ => (StatusCode::SERVICE_UNAVAILABLE, Blame::Host),
                };
                (status, e.code(), blame)
            }
            ApiError::Pool(e) => match e {
                P::InvalidComponent { .. } => (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_component",
                    Blame::Client,
                ),
                P::NoHttpHandler => (StatusCode::NOT_FOUND, "no_http_handler", Blame::Client),
                P::GuestTrap { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "guest_trap",
                    Blame::Guest,
                ),
                P::NoResponse { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "guest_error",
                    Blame::Guest,
                ),
                P::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "timeout", Blame::Guest),
                P::ResponseLength { .. } => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "response_length_mismatch",
                    Blame::Guest,
                ),
                P::ResponseTooLarge { .. } => {
                    (StatusCode::BAD_GATEWAY, "response_too_large", Blame::Guest)
                }
                P::Saturated { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    Blame::Client,
                ),
                P::NodeSaturated { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "node_saturated",
                    Blame::Host,
                ),
                P::Unavailable { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "function_unavailable",
                    Blame::Host,
                ),
                P::Original { .. } => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "original_unavailable",
                    Blame::Host,
                ),
                _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal", Blame::Host),
            },
            // A down function refuses like admission refuses (403), unless the node itself failed
            // it (its original unreadable): then the node is unavailable for it (503).
            ApiError::FunctionDown { cause, .. } => match cause.classify() {
                (_, code, Blame::Host) => (StatusCode::SERVICE_UNAVAILABLE, code, Blame::Host),
                (_, code, _) => (StatusCode::FORBIDDEN, code, Blame::Client),
            },
            ApiError::OriginalTampered { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "module_tampered",
                Blame::Client,
            ),
            // RFC 4918 §11.5: the server cannot store what the request needs. Not 413 (this
            // upload may be small), 429 (no request rate is at fault), 403 (no credential helps)
            // or 409 (the name itself is free): the node is full until something is deleted or
            // the quota raised, so no `Retry-After` either.
            ApiError::QuotaExceeded { .. } => (
                StatusCode::INSUFFICIENT_STORAGE,
                "quota_exceeded",
                Blame::Client,
            ),
            ApiError::ConcurrentDeploy { .. } => {
                (StatusCode::CONFLICT, "concurrent_deploy", Blame::Client)
            }
            ApiError::ClusterUnavailable { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "cluster_unavailable",
                Blame::Host,
            ),
            ApiError::ClusterAuth => (StatusCode::FORBIDDEN, "cluster_auth", Blame::Client),
            ApiError::NotClustered => (StatusCode::NOT_FOUND, "not_clustered", Blame::Client),
            ApiError::ForwardFailed { .. } => {
                (StatusCode::BAD_GATEWAY, "forward_failed", Blame::Host)
            }
            ApiError::Oci(e) => {
                let (status, code) = e.classify();
                (status, code, Blame::Client)
            }
            ApiError::Storage { .. } | ApiError::Internal { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal", Blame::Host)
            }
        }
    }

    /// What a client is told: the error's own message when the client or its guest caused it;
    /// when the host failed, only what failed, plus `request_id` when known, under which the log
    /// holds the detail. That detail (a path in the data dir, a policy file, a backend's or the
    /// engine's message) is the operator's and never leaves the node.
    pub fn public_message(&self, request_id: Option<&str>) -> String {
        use wasmgate_pool::Error as P;
        if self.classify().2 != Blame::Host {
            return self.to_string();
        }
        let what = match self {
            // Its message already is the cause's public message.
            ApiError::ShuttingDown | ApiError::FunctionDown { .. } => return self.to_string(),
            ApiError::Pool(P::Original { .. }) => {
                "the function's signed original cannot be read on this node".to_owned()
            }
            ApiError::Pool(P::Unavailable { function, .. }) => format!(
                "function {} cannot be loaded on this node right now; retry later",
                shown(function)
            ),
            ApiError::Pool(P::NodeSaturated { .. }) => {
                "the node has no free instance slot; retry later".to_owned()
            }
            ApiError::PolicyUnavailable { .. } => {
                "the admission policy service is unavailable; retry later".to_owned()
            }
            ApiError::Policy { .. } => "the admission policy failed to evaluate".to_owned(),
            ApiError::Bus(_) => "the message bus is unavailable; retry later".to_owned(),
            ApiError::ClusterUnavailable { .. } => {
                "the cluster's shared registry (NATS JetStream) is unavailable; retry later"
                    .to_owned()
            }
            ApiError::ForwardFailed { node, .. } => format!(
                "the call was sent to node {} of the cluster, which failed before it answered; it may or may not have run",
                shown(node)
            ),
            _ => "internal error".to_owned(),
        };
        match request_id {
            Some(id) => format!("{what} (the gateway's log has the details under request id {id})"),
            None => format!("{what} (the gateway's log has the details)"),
        }
    }

    /// The JSON error response, with `Retry-After` where waiting helps; as
    /// [`into_response_for`](Self::into_response_for) without a request id.
    pub fn into_response(self) -> GatewayResponse {
        self.into_response_for(None)
    }

    /// The JSON error response for the request `request_id`, with `Retry-After` where waiting
    /// helps. The message is [`public_message`](Self::public_message); the full error is logged
    /// (at `error` when the host failed), inside the request's span.
    pub fn into_response_for(self, request_id: Option<&str>) -> GatewayResponse {
        let (status, code, blame) = self.classify();
        let message = self.public_message(request_id);
        match blame {
            Blame::Host => tracing::error!(code, error = %self, "request failed"),
            Blame::Guest => tracing::warn!(code, %message, "guest failed"),
            Blame::Client => tracing::debug!(code, %message, "request refused"),
        }
        let mut error = json!({ "code": code, "message": message });
        if let (Blame::Host, Some(id)) = (blame, request_id) {
            error["request_id"] = json!(id);
        }
        match &self {
            ApiError::NotGranted { interfaces }
            | ApiError::Pool(wasmgate_pool::Error::NotGranted { interfaces }) => {
                error["interfaces"] = json!(interfaces);
            }
            ApiError::PolicyDenied { reasons, .. } => error["reasons"] = json!(reasons),
            ApiError::Bus(wasmgate_capabilities::messaging::Error::InvalidEvent(invalid)) => {
                if let Some(attribute) = &invalid.attribute {
                    error["attribute"] = json!(attribute);
                }
            }
            ApiError::Bus(wasmgate_capabilities::messaging::Error::BacklogFull {
                quota,
                waiting,
                limit,
                ..
            }) => {
                error["quota"] = json!(format!("quotas.{quota}"));
                error["used"] = json!(waiting);
                error["limit"] = json!(limit);
            }
            ApiError::QuotaExceeded { quota, used, limit } => {
                error["quota"] = json!(format!("quotas.{}", quota.key()));
                error["used"] = json!(used);
                error["limit"] = json!(limit);
            }
            _ => {}
        }
        let mut response = json(status, &json!({ "error": error }));
        if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: a 401 names the scheme the client should use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wasmgate\""),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use wasmgate_pool::Error as P;

    #[test]
    fn every_error_has_its_status_and_stable_code() {
        let table: Vec<(ApiError, u16, &str)> = vec![
            (
                wasmgate_config::FunctionName::try_from("Bad".to_owned())
                    .unwrap_err()
                    .into(),
                400,
                "invalid_name",
            ),
            (
                wasmgate_config::Manifest::from_toml("nonsense = 1")
                    .unwrap_err()
                    .into(),
                400,
                "invalid_manifest",
            ),
            (
                ApiError::BadRequest { reason: "x".into() },
                400,
                "bad_request",
            ),
            (ApiError::Unauthorized { needs: "x" }, 401, "unauthorized"),
            (
                ApiError::ConfigEnv {
                    key: "k".into(),
                    env: "E".into(),
                },
                400,
                "invalid_manifest",
            ),
            (
                ApiError::FunctionNotFound { name: "x".into() },
                404,
                "function_not_found",
            ),
            (
                ApiError::InvalidTraffic { reason: "x".into() },
                400,
                "invalid_traffic",
            ),
            (
                ApiError::VersionNotFound {
                    name: "x".into(),
                    version: 9,
                    kept: vec![1, 2],
                },
                404,
                "version_not_found",
            ),
            (
                ApiError::NoPreviousVersion {
                    name: "x".into(),
                    live: 1,
                },
                409,
                "no_previous_version",
            ),
            (
                ApiError::HealthCheckFailed {
                    name: "x".into(),
                    version: 2,
                    reason: "GET /healthz answered 500".into(),
                },
                422,
                "health_check_failed",
            ),
            (
                ApiError::NotInCluster {
                    operation: "rollback",
                },
                501,
                "not_in_cluster",
            ),
            (ApiError::NotFound { path: "/x".into() }, 404, "not_found"),
            (
                ApiError::NameOwned {
                    name: "a".into(),
                    owner: "k".into(),
                },
                403,
                "name_owned",
            ),
            (
                ApiError::NameNotAllowed {
                    name: "a".into(),
                    issuer: "k".into(),
                    patterns: vec!["b-*".into()],
                },
                403,
                "name_not_allowed",
            ),
            (
                ApiError::ManifestMismatch { reason: "x".into() },
                403,
                "manifest_mismatch",
            ),
            (
                ApiError::ManifestUnsigned {
                    keys: vec!["triggers".into()],
                },
                403,
                "manifest_unsigned",
            ),
            (ApiError::ExpiryRequired, 403, "expiry_required"),
            (
                ApiError::ValidityTooLong {
                    valid_for: Duration::from_secs(2),
                    max: Duration::from_secs(1),
                },
                403,
                "validity_too_long",
            ),
            (
                ApiError::AudienceMismatch {
                    expected: None,
                    signed_for: Some("x".into()),
                },
                403,
                "audience_mismatch",
            ),
            (
                ApiError::Downgrade {
                    iat: 1,
                    deployed_iat: 2,
                },
                409,
                "downgrade",
            ),
            (
                ApiError::ConcurrentDeploy { name: "f".into() },
                409,
                "concurrent_deploy",
            ),
            (
                ApiError::ClusterUnavailable {
                    reason: "down".into(),
                },
                503,
                "cluster_unavailable",
            ),
            (ApiError::ClusterAuth, 403, "cluster_auth"),
            (ApiError::NotClustered, 404, "not_clustered"),
            (
                ApiError::ForwardFailed {
                    node: "n".into(),
                    reason: "reset".into(),
                },
                502,
                "forward_failed",
            ),
            (
                ApiError::MethodNotAllowed {
                    method: "POST".into(),
                },
                405,
                "method_not_allowed",
            ),
            (
                ApiError::RouteConflict {
                    route: "/a".into(),
                    owner: "b".into(),
                },
                409,
                "route_conflict",
            ),
            (
                ApiError::PayloadTooLarge {
                    limit: 1,
                    setting: "http.max_request_body",
                },
                413,
                "payload_too_large",
            ),
            (ApiError::BodyTimeout { seconds: 30.0 }, 408, "body_timeout"),
            (
                ApiError::AsyncBodyTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
            (
                ApiError::AsyncQueueFull {
                    function: "f".into(),
                    limit: 1,
                },
                429,
                "async_queue_full",
            ),
            (
                ApiError::SecretNotAllowed {
                    key: "k".into(),
                    env: "E".into(),
                },
                400,
                "invalid_manifest",
            ),
            (
                ApiError::HeaderTooLarge {
                    size: 20_000,
                    limit: 16_384,
                },
                431,
                "header_too_large",
            ),
            (
                ApiError::TooManyHeaders {
                    count: 150,
                    limit: 100,
                },
                431,
                "too_many_headers",
            ),
            (
                ApiError::UnsupportedMediaType {
                    content_type: "text/plain".into(),
                },
                415,
                "unsupported_media_type",
            ),
            (
                P::InvalidComponent { reason: "x".into() }.into(),
                422,
                "invalid_component",
            ),
            (P::Saturated { limit: 1 }.into(), 429, "too_many_requests"),
            (
                P::GuestTrap {
                    trap: "unreachable".into(),
                }
                .into(),
                500,
                "guest_trap",
            ),
            (
                P::NoResponse { reason: "x".into() }.into(),
                500,
                "guest_error",
            ),
            (ApiError::Internal { reason: "x".into() }, 500, "internal"),
            (
                ApiError::QuotaExceeded {
                    quota: crate::quotas::Quota::Functions,
                    used: 3,
                    limit: 3,
                },
                507,
                "quota_exceeded",
            ),
            (
                P::ResponseTooLarge { limit: 1 }.into(),
                502,
                "response_too_large",
            ),
            (
                P::ResponseLength {
                    declared: 100,
                    written: 5,
                }
                .into(),
                500,
                "response_length_mismatch",
            ),
            (
                ApiError::NameMismatch {
                    name: "a".into(),
                    signed_for: "b".into(),
                },
                403,
                "name_mismatch",
            ),
            (
                ApiError::ReservedSubject {
                    subject: "wasmgate.dead-letter.x".into(),
                },
                403,
                "reserved_subject",
            ),
            (
                ApiError::NotGranted {
                    interfaces: vec!["wasi:http/outgoing-handler@0.2.0".into()],
                },
                403,
                "capability_not_granted",
            ),
            (
                P::NotGranted {
                    interfaces: vec!["wasi:sockets/tcp@0.2.0".into()],
                }
                .into(),
                403,
                "capability_not_granted",
            ),
            (
                ApiError::PolicyDenied {
                    operation: crate::admission::Operation::Deploy,
                    reasons: vec!["no".into()],
                },
                403,
                "policy_denied",
            ),
            (
                ApiError::PolicyUnavailable { reason: "x".into() },
                503,
                "policy_unavailable",
            ),
            (ApiError::Policy { reason: "x".into() }, 500, "policy_error"),
            (wasmgate_claims::Error::Unsigned.into(), 401, "unsigned"),
            (
                P::NodeSaturated { reason: "x".into() }.into(),
                503,
                "node_saturated",
            ),
            (ApiError::ShuttingDown, 503, "shutting_down"),
            (
                ApiError::OriginalTampered {
                    function: "f".into(),
                    expected: "sha256:00".into(),
                    actual: "sha256:11".into(),
                },
                422,
                "module_tampered",
            ),
            (
                ApiError::FunctionDown {
                    function: "f".into(),
                    cause: std::sync::Arc::new(wasmgate_claims::Error::Expired { exp: 1 }.into()),
                },
                403,
                "expired",
            ),
            (
                ApiError::FunctionDown {
                    function: "f".into(),
                    cause: std::sync::Arc::new(
                        P::Original {
                            path: "/data/originals/x.wasm".into(),
                            reason: "gone".into(),
                        }
                        .into(),
                    ),
                },
                503,
                "original_unavailable",
            ),
            (
                wasmgate_capabilities::messaging::Error::BacklogFull {
                    subject: "s".into(),
                    quota: "max_backlog_messages",
                    waiting: 1,
                    limit: 1,
                }
                .into(),
                503,
                "backlog_full",
            ),
            (
                wasmgate_capabilities::messaging::Error::TooLargeForBacklog { size: 2, max: 1 }
                    .into(),
                413,
                "message_too_large",
            ),
            (
                P::Unavailable {
                    function: "f".into(),
                    path: "/data/artifacts/x.cwasm".into(),
                    reason: "x".into(),
                }
                .into(),
                503,
                "function_unavailable",
            ),
            (
                P::Timeout {
                    limit: Duration::from_secs(1),
                }
                .into(),
                504,
                "timeout",
            ),
        ];
        for (error, status, code) in table {
            let (s, c, _) = error.classify();
            assert_eq!((s.as_u16(), c), (status, code), "{error}");
        }
    }

    #[test]
    fn a_huge_name_or_path_from_the_request_is_quoted_short() {
        for error in [
            ApiError::FunctionNotFound {
                name: "a".repeat(60_000),
            },
            ApiError::NotFound {
                path: format!("/{}\u{202e}", "b".repeat(60_000)),
            },
        ] {
            let message = error.to_string();
            assert!(message.len() < 200, "{} bytes", message.len());
            assert!(message.ends_with('…'), "{message}");
        }
        let message = ApiError::NotFound {
            path: "/x\u{202e}y".into(),
        }
        .to_string();
        assert!(message.ends_with("/x\\u{202e}y"), "{message}");
    }

    /// Host failures as they happen: each detail names something only the operator may see.
    fn host_failures() -> Vec<ApiError> {
        vec![
            ApiError::Internal {
                reason: "cannot create data dir /srv/secret-data: denied".into(),
            },
            ApiError::Storage {
                reason: "/srv/secret-data/registry.redb: I/O error".into(),
            },
            ApiError::Policy {
                reason: "policy /etc/wasmgate/secret.rego: parse error".into(),
            },
            ApiError::PolicyUnavailable {
                reason: "OPA at http://10.0.0.7:8181/secret: refused".into(),
            },
            P::Artifact {
                path: "/srv/secret-data/artifacts/ab.cwasm".into(),
                reason: "denied".into(),
            }
            .into(),
            P::Engine {
                reason: "secret engine detail".into(),
            }
            .into(),
            P::Original {
                path: "/srv/secret-data/originals/ab.wasm".into(),
                reason: "denied".into(),
            }
            .into(),
            P::NodeSaturated {
                reason: "secret pooling allocator detail".into(),
            }
            .into(),
            wasmgate_capabilities::messaging::Error::Storage {
                message: "/srv/secret-data/bus.redb: full".into(),
            }
            .into(),
        ]
    }

    #[tokio::test]
    async fn host_failures_tell_the_client_what_failed_and_the_request_id_never_the_detail() {
        use http_body_util::BodyExt;
        for error in host_failures() {
            let detail = error.to_string();
            assert!(detail.contains("secret"), "the test's detail: {detail}");
            let response = error.into_response_for(Some("req-42"));
            let body = response.into_body().collect().await.unwrap().to_bytes();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let message = body["error"]["message"].as_str().unwrap();
            assert!(!message.contains("secret"), "{detail} became {message}");
            assert!(!message.contains('/'), "{detail} became {message}");
            assert!(message.contains("req-42"), "{message}");
            assert_eq!(body["error"]["request_id"], "req-42");
        }
    }

    #[test]
    fn a_down_function_says_why_and_never_where_its_original_lies() {
        let unreadable = ApiError::FunctionDown {
            function: "orders".into(),
            cause: std::sync::Arc::new(
                P::Original {
                    path: "/srv/secret-data/originals/ab.wasm".into(),
                    reason: "denied".into(),
                }
                .into(),
            ),
        };
        let message = unreadable.public_message(Some("id"));
        assert!(
            message.contains("orders") && message.contains("original"),
            "{message}"
        );
        assert!(
            !message.contains("secret") && !message.contains("denied"),
            "{message}"
        );
        let expired = ApiError::FunctionDown {
            function: "orders".into(),
            cause: std::sync::Arc::new(wasmgate_claims::Error::Expired { exp: 7 }.into()),
        };
        let message = expired.public_message(None);
        assert!(
            message.contains("expired at 7") && message.contains("deploy it again"),
            "{message}"
        );
    }

    #[test]
    fn an_unloadable_function_is_named_and_its_artifact_path_is_not() {
        let error = ApiError::from(P::Unavailable {
            function: "orders".into(),
            path: "/srv/secret-data/artifacts/ab.cwasm".into(),
            reason: "No such file or directory (os error 2)".into(),
        });
        assert!(
            error.to_string().contains("/srv/secret-data"),
            "the log has it"
        );
        let message = error.public_message(None);
        assert!(message.contains("orders"), "{message}");
        assert!(
            !message.contains("secret") && !message.contains("os error"),
            "{message}"
        );
        let response = error.into_response();
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn client_and_guest_failures_keep_their_own_message() {
        for error in [
            ApiError::from(P::Saturated { limit: 3 }),
            ApiError::FunctionNotFound { name: "x".into() },
        ] {
            assert_eq!(error.public_message(Some("id")), error.to_string());
        }
    }

    #[test]
    fn saturation_answers_carry_retry_after_and_a_json_body() {
        let response = ApiError::from(P::Saturated { limit: 1 }).into_response();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let response = ApiError::Unauthorized { needs: "x" }.into_response();
        assert!(response.headers().get(header::RETRY_AFTER).is_none());
    }
}
