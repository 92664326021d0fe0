//! OpenTelemetry traces (`[tracing]`): the gateway's `tracing` spans exported over OTLP/HTTP
//! protobuf, with W3C Trace Context (<https://www.w3.org/TR/trace-context/>) taken from each
//! incoming request and passed on to the guest's outgoing requests.
//!
//! Spans: `request` (every HTTP request; parent: the caller's `traceparent`), `cold_start`
//! (loading and linking a function's code), `guest` (the guest's run, instantiation included)
//! and `http.client` (each outgoing request of a guest, whose context the request carries as
//! `traceparent` unless the guest set one). Built on `tracing-opentelemetry` (so existing
//! spans and their fields become OpenTelemetry spans and attributes) and `opentelemetry-otlp`
//! with hyper as its HTTP client; spans leave in batches about once a second
//! ([`EXPORT_INTERVAL`]).
//!
//! Off (no `otlp_endpoint`, the default), nothing of this is installed: no layer, no
//! propagator, no span beyond the `request` span the logs already use. Not traced yet:
//! published messages, async calls and their callbacks.

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, Sampler, SdkTracerProvider};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use wasmgate_config::TracingSettings;

/// How often finished spans are sent to the collector.
pub const EXPORT_INTERVAL: Duration = Duration::from_secs(1);

/// How long one export may take before it is given up.
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong setting tracing up.
#[derive(Debug, thiserror::Error)]
#[error("tracing: the OTLP exporter could not be built: {0}")]
pub struct Error(String);

/// The installed tracer provider: flush it at exit so the last spans are sent.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

impl Telemetry {
    /// Sends the spans still queued and stops exporting.
    pub fn shutdown(self) {
        if let Err(e) = self.provider.shutdown() {
            tracing::warn!(error = %e, "tracing: the last spans could not be sent");
        }
    }
}

/// The layer [`init`] returns: `tracing` spans of subscriber `S` as OpenTelemetry spans.
pub type SpanLayer<S> =
    tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>;

static PROPAGATOR: OnceLock<TraceContextPropagator> = OnceLock::new();

/// Whether tracing is on in this process.
pub fn enabled() -> bool {
    PROPAGATOR.get().is_some()
}

/// The layer that turns `tracing` spans into exported OpenTelemetry spans, and the provider
/// behind it, when `settings` names an endpoint; `None` when tracing is off. Call inside the
/// Tokio runtime (the batch exporter runs on it). Installs the trace-context propagator for
/// incoming requests and the pool's outgoing requests.
pub fn init<S>(
    settings: &TracingSettings,
    node_id: &str,
) -> Result<Option<(SpanLayer<S>, Telemetry)>, Error>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    let Some(endpoint) = &settings.otlp_endpoint else {
        return Ok(None);
    };
    use opentelemetry_otlp::WithExportConfig;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| Error(e.to_string()))?;
    let batch = BatchConfigBuilder::default()
        .with_scheduled_delay(EXPORT_INTERVAL)
        .build();
    let processor =
        opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor::builder(
            exporter,
            opentelemetry_sdk::runtime::Tokio,
        )
        .with_batch_config(batch)
        .build();
    let resource = Resource::builder_empty()
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.instance.id", node_id.to_owned()))
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            settings.sample_ratio,
        ))))
        .with_resource(resource)
        .build();
    let tracer = provider.tracer("wasmgate");
    let _ = PROPAGATOR.set(TraceContextPropagator::new());
    wasmgate_pool::trace_context::install(Arc::new(outgoing));
    let layer = tracing_opentelemetry::layer().with_tracer(tracer);
    Ok(Some((layer, Telemetry { provider })))
}

/// Makes the caller's trace context (`traceparent`, `tracestate` in `headers`) the parent of
/// `span`; nothing with tracing off or without a valid `traceparent`.
pub fn continue_trace(span: &tracing::Span, headers: &http::HeaderMap) {
    let Some(propagator) = PROPAGATOR.get() else {
        return;
    };
    let parent = propagator.extract(&HeaderExtractor(headers));
    let _ = span.set_parent(parent);
}

/// The pool's propagator: an `http.client` span for one outgoing request of a guest, its context
/// written into the request's headers unless the guest wrote a `traceparent` itself.
fn outgoing(
    method: &http::Method,
    uri: &http::Uri,
    headers: &mut http::HeaderMap,
) -> tracing::Span {
    let span = tracing::info_span!(
        "http.client",
        http.request.method = %method,
        server.address = uri.host().unwrap_or(""),
        url.path = uri.path(),
    );
    if !headers.contains_key("traceparent")
        && let Some(propagator) = PROPAGATOR.get()
    {
        let context: Context = span.context();
        propagator.inject_context(&context, &mut HeaderInjector(headers));
    }
    span
}
