//! OpenTelemetry traces (`[tracing]`): the gateway's `tracing` spans exported over OTLP/HTTP
//! protobuf, with W3C Trace Context (<https://www.w3.org/TR/trace-context/>) taken from each
//! incoming request and passed on to the guest's outgoing requests.
//!
//! Spans: `request` (every HTTP request; parent: the caller's `traceparent`), `cold_start`
//! (loading and linking a function's code), `guest` (the guest's run, instantiation included),
//! `http.client` (each outgoing request of a guest, whose context the request carries as
//! `traceparent` unless the guest set one), `messaging.publish` (each message a guest sends or
//! asks with, whose context the message carries as the CloudEvents distributed-tracing
//! extension: `ce-traceparent` on an event, `traceparent` on a plain message) and `message`
//! (each delivery of a message to a function: a trigger's attempt, a schedule's fire, a health
//! check; parent: the message's trace context). Built on `tracing-opentelemetry` (so existing
//! spans and their fields become OpenTelemetry spans and attributes) and `opentelemetry-otlp`
//! with hyper as its HTTP client; spans leave in batches about once a second
//! ([`EXPORT_INTERVAL`]).
//!
//! An async call continues the trace of the request that accepted it: its stored headers carry
//! that request's context ([`carry_into`]), each attempt runs in an `async_call` span
//! ([`async_call_span`]) and its callback in an `http.client` span whose context the POST carries
//! ([`callback_span`]). A deploy's signature and policy checks run in an `admission` span, and the
//! pull of an `oci://` component in an `oci.pull` span ([`when_on`]).
//!
//! Off (no `otlp_endpoint`, the default), nothing of this is installed: no layer, no
//! propagator, no span beyond the `request` span the logs already use.

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{BatchConfigBuilder, Sampler, SdkTracerProvider};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use wasmgate_capabilities::messaging::{Message, trace_context};
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
    trace_context::install(Arc::new(publishing));
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

/// The span a delivery of `message` to `function` runs in, child of the trace context the
/// message carries (if any); `None` with tracing off.
pub fn message_span(function: &str, message: &Message) -> Option<tracing::Span> {
    let propagator = PROPAGATOR.get()?;
    let span = tracing::info_span!(
        "message",
        function = %function,
        messaging.destination.name = %message.subject,
    );
    let parent = propagator.extract(&MessageExtractor(message));
    let _ = span.set_parent(parent);
    Some(span)
}

/// `make()` with tracing on, else a disabled span: for spans only traces need, which the logs of
/// a gateway without tracing should not carry.
pub fn when_on(make: impl FnOnce() -> tracing::Span) -> tracing::Span {
    if enabled() {
        make()
    } else {
        tracing::Span::none()
    }
}

/// Writes the current span's trace context into an async call's stored request headers, in place
/// of any the caller sent (the caller's is this span's parent already), so the call's later run
/// and callback continue the trace. Nothing with tracing off.
pub fn carry_into(headers: &mut Vec<(String, String)>) {
    let Some(propagator) = PROPAGATOR.get() else {
        return;
    };
    let mut pairs = Pairs::default();
    propagator.inject_context(&tracing::Span::current().context(), &mut pairs);
    if pairs.0.is_empty() {
        return;
    }
    headers.retain(|(k, _)| !is_trace_header(k));
    headers.extend(pairs.0);
}

/// The span one attempt of async call `id` of `function` runs in, child of the trace context
/// its stored `headers` carry ([`carry_into`]); `None` with tracing off.
pub fn async_call_span(
    function: &str,
    id: &str,
    attempt: u32,
    headers: &[(String, String)],
) -> Option<tracing::Span> {
    let propagator = PROPAGATOR.get()?;
    let span = tracing::info_span!("async_call", function = %function, call.id = %id, attempt);
    let _ = span.set_parent(propagator.extract(&StoredHeaders(headers)));
    Some(span)
}

/// An `http.client` span for the callback of an async call whose stored `headers` carry its
/// trace context, and the `traceparent` / `tracestate` the callback's POST carries; `None` with
/// tracing off.
pub fn callback_span(
    url: &reqwest::Url,
    headers: &[(String, String)],
) -> Option<(tracing::Span, Vec<(String, String)>)> {
    let propagator = PROPAGATOR.get()?;
    let span = tracing::info_span!(
        "http.client",
        http.request.method = "POST",
        server.address = url.host_str().unwrap_or(""),
        url.path = url.path(),
    );
    let _ = span.set_parent(propagator.extract(&StoredHeaders(headers)));
    let mut pairs = Pairs::default();
    propagator.inject_context(&span.context(), &mut pairs);
    Some((span, pairs.0))
}

/// Whether `name` is one of the W3C Trace Context headers.
fn is_trace_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("traceparent") || name.eq_ignore_ascii_case("tracestate")
}

/// Reads the trace context of headers stored as pairs (an async call's).
struct StoredHeaders<'h>(&'h [(String, String)]);

impl Extractor for StoredHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Reads a message's trace context ([`trace_context::carried`]).
struct MessageExtractor<'m>(&'m Message);

impl Extractor for MessageExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        trace_context::carried(self.0, key)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.metadata.iter().map(|(k, _)| k.as_str()).collect()
    }
}

/// Collects the trace context to write into a message.
#[derive(Default)]
struct Pairs(Vec<(String, String)>);

impl Injector for Pairs {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// The messaging propagator: a `messaging.publish` span for one message a guest publishes to
/// `subject`, and the trace context the message is to carry.
fn publishing(subject: &str) -> (tracing::Span, Vec<(String, String)>) {
    let span = tracing::info_span!("messaging.publish", messaging.destination.name = %subject);
    let mut pairs = Pairs::default();
    if let Some(propagator) = PROPAGATOR.get() {
        propagator.inject_context(&span.context(), &mut pairs);
    }
    (span, pairs.0)
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
