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
    /// Check a gateway's URL and admin token, then save them (and a signing key's path) in the
    /// profile the client commands read: `$XDG_CONFIG_HOME/wasmgate/profile.toml` (mode 0600).
    Login(LoginArgs),
    /// Build (for a project), sign with the profile's key, upload and check that a function
    /// answers: one step from source to a served function.
    Deploy(DeployArgs),
    /// Invoke a function through the gateway and print the response body.
    Call(CallArgs),
    /// List the deployed functions: name, version, status.
    Ls(LsArgs),
    /// Delete a function.
    Rm(RmArgs),
    /// Print a function's recent guest log lines on the gateway; --follow waits for new ones.
    Logs(LogsArgs),
    /// Store a signed component in an OCI registry (the wasm artifact layout of `wkg oci
    /// push`), for gateways to pull: `wasmgate deploy oci://...` or `PUT /functions/NAME` with
    /// `{"oci": "oci://..."}`.
    Push(PushArgs),
}

/// Flags of `wasmgate new`.
#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// Function name (lowercase letters, digits and '-', starting with a letter): the project's
    /// directory, package and the name it deploys as.
    #[arg(value_name = "NAME", required_unless_present = "list")]
    pub name: Option<String>,
    /// Template: rust, rust-kv, rust-events, js or python.
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

/// Where the client commands find the gateway: each flag beats its `WASMGATE_*` variable, which
/// beats the profile `wasmgate login` saved.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GatewayArgs {
    /// The gateway's URL, e.g. http://127.0.0.1:8080 [default: the profile's].
    #[arg(long, value_name = "URL", env = "WASMGATE_URL")]
    pub url: Option<String>,
    /// The admin token [default: the profile's].
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WASMGATE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The issuer private key `deploy` signs with [default: the profile's].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// Flags of `wasmgate login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The gateway's URL, e.g. http://127.0.0.1:8080 (http:// or https://).
    #[arg(value_name = "URL")]
    pub url: String,
    /// The admin token (or WASMGATE_TOKEN; none for a gateway whose admin API is open).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WASMGATE_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// The issuer private key (PKCS#8 PEM from `wasmgate keys generate`) to remember: `sign`
    /// uses it when given no `--key`.
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `wasmgate deploy`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// A project directory (its `deploy.toml` says how to build it; `wasmgate new` writes one),
    /// a component file (`.wasm`), or an `oci://REGISTRY/REPO:TAG` reference the gateway pulls
    /// (pushed with `wasmgate push`, signed already) [default: the current directory].
    #[arg(value_name = "DIR|FILE")]
    pub path: Option<PathBuf>,
    /// The name to deploy as [default: the project's name, or the file's name without `.wasm`].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Capability to grant (repeatable), as for `sign`: keyvalue, messaging, config,
    /// http-outgoing[=HOSTS], sockets[=ADDRESSES]. Replaces the project's `caps`.
    #[arg(long = "cap", value_name = "CAP[=HOSTS]")]
    pub caps: Vec<String>,
    /// Grant the capabilities the component's imports need (keyvalue, messaging, config)
    /// without asking. Network access (http-outgoing, sockets) is never granted this way: it
    /// needs a --cap naming its hosts.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// The function manifest (TOML) to sign and deploy with [default: the project's].
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Validity of the signature from now, as for `sign` (default 90d).
    #[arg(long, value_name = "DURATION|never")]
    pub expires: Option<String>,
    /// Deploy the project's last build instead of building it first.
    #[arg(long)]
    pub no_build: bool,
    /// Print one JSON object for scripts instead of progress and text.
    #[arg(long)]
    pub json: bool,
    /// The gateway, and the signing key.
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// Flags of `wasmgate push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The signed component (`wasmgate sign` writes one).
    #[arg(value_name = "FILE.wasm")]
    pub file: PathBuf,
    /// Where to push it: oci://REGISTRY/REPOSITORY:TAG, e.g. oci://ghcr.io/acme/hello:1.0.
    #[arg(value_name = "oci://REGISTRY/REPOSITORY:TAG")]
    pub reference: String,
    /// User name for the registry; the password or token comes from --password-stdin or
    /// WASMGATE_REGISTRY_PASSWORD.
    #[arg(long, short = 'u', value_name = "USER")]
    pub username: Option<String>,
    /// Read the password or token from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Speak plain http:// to the registry (a local one) instead of https://.
    #[arg(long)]
    pub plain_http: bool,
    /// Print one JSON object for scripts.
    #[arg(long)]
    pub json: bool,
}

/// Flags of `wasmgate call`.
#[derive(Debug, clap::Args)]
pub struct CallArgs {
    /// The function.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Path (and query) after `/fn/NAME`, e.g. /items?limit=5.
    #[arg(value_name = "PATH")]
    pub path: Option<String>,
    /// Request body: text, `@FILE` for a file's bytes, `@-` for standard input.
    #[arg(short = 'd', long = "data", value_name = "BODY|@FILE")]
    pub data: Option<String>,
    /// Request method [default: GET, or POST with -d].
    #[arg(short = 'X', long = "request", value_name = "METHOD")]
    pub method: Option<String>,
    /// Request header (repeatable), e.g. -H 'content-type: application/json'.
    #[arg(short = 'H', long = "header", value_name = "K: V")]
    pub headers: Vec<String>,
    /// Print the status, headers and body as JSON instead of the body.
    #[arg(long)]
    pub json: bool,
    /// The gateway.
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// Flags of `wasmgate ls`.
#[derive(Debug, clap::Args)]
pub struct LsArgs {
    /// Print the gateway's JSON list instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The gateway.
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// Flags of `wasmgate rm`.
#[derive(Debug, clap::Args)]
pub struct RmArgs {
    /// The function.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Remove its key-value data too (kept for the owner's next deploy otherwise).
    #[arg(long)]
    pub purge: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// The gateway.
    #[command(flatten)]
    pub gateway: GatewayArgs,
}

/// Flags of `wasmgate logs`.
#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// The function.
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Keep printing new lines until interrupted (Ctrl-C) or the function is deleted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Print one JSON object per line (JSON Lines) instead of text.
    #[arg(long)]
    pub json: bool,
    /// The gateway.
    #[command(flatten)]
    pub gateway: GatewayArgs,
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
        /// Print `{"private_key_file", "public_key"}` as JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of `wasmgate sign`.
#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// Issuer private key (PKCS#8 PEM from `wasmgate keys generate`) [default: the profile's,
    /// from `wasmgate login --key`].
    #[arg(long, value_name = "FILE")]
    pub key: Option<PathBuf>,
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
    /// Print what was signed as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
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
    fn call_takes_curl_like_flags_and_the_gateway_flags() {
        let cli = Cli::try_parse_from([
            "wasmgate",
            "call",
            "echo",
            "/x?y=1",
            "-d",
            "@body.json",
            "-X",
            "PUT",
            "-H",
            "a: 1",
            "-H",
            "b: 2",
            "--url",
            "http://h:1",
            "--token",
            "t",
            "--json",
        ])
        .unwrap();
        match cli.command {
            Command::Call(args) => {
                assert_eq!(args.name, "echo");
                assert_eq!(args.path.as_deref(), Some("/x?y=1"));
                assert_eq!(args.data.as_deref(), Some("@body.json"));
                assert_eq!(args.method.as_deref(), Some("PUT"));
                assert_eq!(args.headers, ["a: 1", "b: 2"]);
                assert_eq!(args.gateway.url.as_deref(), Some("http://h:1"));
                assert_eq!(args.gateway.token.as_deref(), Some("t"));
                assert!(args.json);
            }
            other => panic!("{other:?}"),
        }
    }

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
