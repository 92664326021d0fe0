//! Log output: human-readable by default, JSON lines for machines; with tracing on, the same
//! spans also go to the OpenTelemetry layer (see [`crate::telemetry`]).

use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};
use wasmgate_config::LogFormat;

/// Log filter when `RUST_LOG` is unset. h2 and hyper warn once per misbehaving connection
/// (16,539 lines in 20 s of reconnecting Rapid Reset); the gateway counts and logs those ends
/// itself at a bounded rate (`server::outcome`).
const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn,h2=error,hyper=error";

/// Installs the global subscriber; logs go to stderr so stdout stays for machine-readable lines.
/// `spans`, when given, receives the same spans (the OpenTelemetry layer), under the same filter.
pub fn init<L>(format: LogFormat, spans: Option<L>)
where
    L: Layer<Registry> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = vec![match format {
        LogFormat::Json => fmt.json().boxed(),
        _ => fmt.boxed(),
    }];
    if let Some(spans) = spans {
        layers.push(spans.boxed());
    }
    let _ = tracing_subscriber::registry()
        .with(layers.with_filter(filter))
        .try_init();
}
