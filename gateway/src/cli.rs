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
    /// Manage issuer keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Sign a component for deployment: embed claims in its `jwt` custom section.
    Sign(SignArgs),
    /// Show a component's claims, imports and exports, and whether it verifies.
    Inspect(InspectArgs),
    /// Start a function project from a template shipped in this binary (`--list` shows them).
    New(NewArgs),
}

/// Flags of `wasmgate new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Function name (lowercase letters, digits and '-', starting with a letter): the project's
    /// directory, package and the name it deploys as.
    #[arg(value_name = "NAME", required_unless_present = "list")]
    pub name: Option<String>,
    /// Template: rust, js or python.
    #[arg(long, short, value_name = "TEMPLATE", default_value = "rust")]
    pub template: String,
    /// Directory to create the project in (default: ./NAME); must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// List the templates instead.
    #[arg(long)]
    pub list: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

/// `wasmgate keys ...`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate an Ed25519 issuer key pair: the private key goes to FILE (PKCS#8 PEM, mode 0600),
    /// the public key to the last line of stdout.
    Generate {
        /// Where to write the private key; an existing file is not overwritten.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// Flags of `wasmgate sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Issuer private key (PKCS#8 PEM from `wasmgate keys generate`).
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Function name the component may be deployed as.
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Capability to grant (repeatable): keyvalue, messaging, config, http-outgoing, sockets.
    /// A network capability may list the only hosts it reaches after `=`, comma-separated:
    /// `http-outgoing=api.example.com,*.svc.example.com:8443` (exact host, `*.` and a domain,
    /// or an IP address or CIDR range, each with an optional `:PORT`); `sockets` takes only
    /// addresses and ranges (`sockets=10.1.0.0/16:5432`). Without a list a grant reaches any
    /// public address; loopback, private and link-local addresses stay closed unless the
    /// operator opens them (`[egress] allow`).
    #[arg(long = "cap", value_name = "CAP[=HOSTS]")]
    pub caps: Vec<String>,
    /// Validity from now, e.g. 90d or 12h (default 90d); `never` signs without `exp`, which
    /// gateways refuse unless their operator set `[admission] allow_no_expiry`.
    #[arg(long, value_name = "DURATION|never")]
    pub expires: Option<String>,
    /// The manifest (TOML) this component is deployed with: its SHA-256 is signed, and a deploy
    /// must send this file byte for byte. Triggers, shared key-value buckets, `[config]` values
    /// read from the environment, extra routes and publish subjects are accepted only from a
    /// signed manifest.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The gateway or cluster the component is meant for (`aud`); must match the gateway's
    /// `[admission] audience`.
    #[arg(long, value_name = "AUDIENCE")]
    pub audience: Option<String>,
    /// Version label stored in the claims.
    #[arg(long = "component-version", value_name = "VERSION")]
    pub version: Option<String>,
    /// Free-form tag stored in the claims (repeatable), e.g. for policies.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// The component to sign.
    #[arg(value_name = "IN.wasm")]
    pub input: PathBuf,
    /// Where to write the signed component (may be the input).
    #[arg(short = 'o', long = "output", value_name = "OUT.wasm")]
    pub output: PathBuf,
}

/// Flags of `wasmgate inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// The component to inspect.
    #[arg(value_name = "FILE.wasm")]
    pub input: PathBuf,
    /// Check the signature against this issuer public key (repeatable).
    #[arg(long = "trust", value_name = "PUBKEY", allow_hyphen_values = true)]
    pub trust: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
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
    #[arg(long = "trust", value_name = "PUBKEY", allow_hyphen_values = true)]
    pub trust: Vec<String>,
    /// Rego admission policy file (repeatable).
    #[arg(long = "policy", value_name = "FILE")]
    pub policies: Vec<PathBuf>,
    /// Log format: human or json.
    #[arg(long, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// A second listener for /metrics, /healthz and /readyz only, e.g. 127.0.0.1:9090.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Serve the admin API and /metrics with NO authentication (loopback listen address only).
    #[arg(long)]
    pub insecure_open_admin: bool,
    /// Join the cluster sharing this NATS server (JetStream on), e.g. nats://127.0.0.1:4222.
    #[arg(long, value_name = "NATS_URL")]
    pub cluster: Option<String>,
    /// This node's id in the cluster, unique (e.g. a StatefulSet pod name, wasmgate-0).
    #[arg(long, value_name = "ID")]
    pub node_id: Option<String>,
    /// The URL peers reach this node's listener on, e.g. http://10.0.0.5:8080.
    #[arg(long, value_name = "URL")]
    pub advertise: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_keys_may_start_with_a_hyphen() {
        // base64url keys start with '-' one time in 64; clap must not take them for a flag.
        let key = "-QfBbhQ2f1tEvhhkRAnkm6bD1PZqyBnjq6vLPxWLWyw";
        let cli = Cli::try_parse_from(["wasmgate", "serve", "--trust", key]).unwrap();
        match cli.command {
            Command::Serve(args) => assert_eq!(args.trust, [key]),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from(["wasmgate", "inspect", "x.wasm", "--trust", key]).unwrap();
        match cli.command {
            Command::Inspect(args) => assert_eq!(args.trust, [key]),
            other => panic!("{other:?}"),
        }
    }
}
