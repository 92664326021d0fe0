//! Log output: human-readable by default, JSON lines for machines.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;
use wasmgate_config::LogFormat;

/// Log filter when `RUST_LOG` is unset. h2 and hyper warn once per misbehaving connection
/// (16,539 lines in 20 s of reconnecting Rapid Reset); the gateway counts and logs those ends
/// itself at a bounded rate (`server::outcome`).
const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn,h2=error,hyper=error";

/// Installs the global subscriber; logs go to stderr so stdout stays for machine-readable lines.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        _ => builder.try_init(),
    };
}
