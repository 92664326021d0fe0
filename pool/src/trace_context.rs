//! Distributed tracing hooks of the pool. OpenTelemetry lives in the gateway; the pool only
//! opens `tracing` spans where a call spends its time and lets the gateway's propagator write
//! the W3C `traceparent` of a guest's outgoing request. Until the gateway installs a propagator
//! (tracing off, the default) no span is created here and nothing is allocated on a call.

use std::sync::{Arc, OnceLock};

/// Opens the span of one outgoing request of a guest (method, URI) and writes its trace context
/// into the request's headers (unless the guest set `traceparent` itself); the request runs
/// inside the returned span.
pub type Propagator =
    Arc<dyn Fn(&http::Method, &http::Uri, &mut http::HeaderMap) -> tracing::Span + Send + Sync>;

static PROPAGATOR: OnceLock<Propagator> = OnceLock::new();

/// Installs the process's propagator, once: turns the pool's spans on. `false` when one was
/// installed already (the first stays).
pub fn install(propagator: Propagator) -> bool {
    PROPAGATOR.set(propagator).is_ok()
}

/// Whether tracing is on.
pub fn enabled() -> bool {
    PROPAGATOR.get().is_some()
}

/// The span of an outgoing request, after writing its trace context into its headers; `None`
/// (and nothing done) with tracing off.
pub(crate) fn outgoing<B>(request: &mut http::Request<B>) -> Option<tracing::Span> {
    let propagator = PROPAGATOR.get()?;
    let (method, uri) = (request.method().clone(), request.uri().clone());
    Some(propagator(&method, &uri, request.headers_mut()))
}

/// The span the guest's task of one call of `function` runs in: with tracing on a `guest`
/// span, child of the current (request) span; off, the current span itself, so log lines keep
/// the request's fields.
pub(crate) fn guest_span(function: &str) -> tracing::Span {
    if enabled() {
        tracing::info_span!("guest", function = %function)
    } else {
        tracing::Span::current()
    }
}

/// The span of a cold start of `function` (loading its code and linking it).
pub(crate) fn cold_start_span(function: &str) -> tracing::Span {
    if enabled() {
        tracing::info_span!("cold_start", function = %function)
    } else {
        tracing::Span::none()
    }
}
