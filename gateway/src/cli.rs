//! The `wasmgate` command line.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// wasmgate: a serverless gateway for signed WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "wasmgate", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    Serve(ServeArgs),
}

/// Flags of `wasmgate serve`; each overrides the config file and `WASMGATE_*` variables.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML settings file (see config/examples/wasmgate.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on, e.g. 127.0.0.1:8080 (port 0 picks a free one).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Directory holding the registry and artifacts.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Trust components signed by this issuer public key (repeatable).
    #[arg(long = "trust", value_name = "PUBKEY")]
    pub trust: Vec<String>,
    /// Rego admission policy file (repeatable).
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// Log format: human or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
}
