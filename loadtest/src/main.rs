//! `wasmgate-loadtest`: the command line of the `wasmgate-loadtest` library.

mod subcommands;

use anyhow::Context;
use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_loadtest::{
    Admin, DEFAULT_CONNECTIONS, DEFAULT_FLOOD_CONNECTIONS, DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_NEIGHBOUR_P99, DEFAULT_MAX_PROBE_P99, DEFAULT_PROBE_RATE, DEFAULT_SPINNERS,
    Endpoint, Load, Options, Overload, ProgressMode, ScenarioKind, Schedule, Signer, Target, Trace,
};

/// Load tests for wasmgate and servers like it, optionally compared side by side.
///
/// A URL containing `{name}` addresses functions (`http://127.0.0.1:8080/fn/{name}`); one
/// without is used as given for every request (`http://127.0.0.1:8081/` for `wasmtime serve`).
/// Functions are named lt-0, lt-1, ...; with `--wasm` and `--key` they are signed and deployed
/// to each URL that has `{name}` before the test.
///
/// `overload` probes `--probe-url` (a function URL) at `--probe-rate`, alone and then while
/// `--flood-connections` connections call `--flood-url` as fast as they are answered; it exits
/// non-zero when the flooded probe's p99 exceeds `--max-probe-p99`, a 429/503 lacks
/// `Retry-After`, or the gateway no longer answers. `noisy` is the same run with a few connections
/// calling a function whose guests spin until their timeout (`--flood-connections` 8,
/// `--max-probe-p99` 20ms unless given).
///
/// Offline, without a server: `wasmgate-loadtest generate --shape azure ...` writes an
/// Azure-shaped trace, `wasmgate-loadtest simulate --trace FILE --policy NAME ...` replays one
/// through the keep-alive policies (see `--help` of each).
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// The workload to run.
    #[arg(value_enum)]
    scenario: ScenarioKind,
    /// The server under test (overload: the function URL to probe).
    #[arg(long, value_name = "URL", visible_alias = "probe-url")]
    target: String,
    /// A second server to run the same scenario against, alternating rounds; prints both and
    /// the ratio target / compare.
    #[arg(long, value_name = "URL")]
    compare: Option<String>,
    /// The admin API of the --target gateway [default: the scheme and host of --target].
    #[arg(long, value_name = "URL")]
    admin: Option<String>,
    /// The admin API of the --compare gateway [default: the scheme and host of --compare].
    #[arg(long, value_name = "URL")]
    compare_admin: Option<String>,
    /// Bearer token for the admin API.
    #[arg(long, env = "WASMGATE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Open loop: send this many requests per second, latency from each one's scheduled time
    /// [overload: the probe's rate, default 200].
    #[arg(
        long,
        value_name = "REQ_PER_S",
        conflicts_with = "connections",
        visible_alias = "probe-rate"
    )]
    rate: Option<f64>,
    /// With --rate: Poisson arrivals instead of evenly spaced ones.
    #[arg(long, requires = "rate")]
    poisson: bool,
    /// Closed loop: this many connections, each sending when answered [default: 32].
    #[arg(long, value_name = "N")]
    connections: Option<usize>,
    /// Length of a measured run [default: 10s; trace: the whole trace].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Unmeasured load before each measured run of warm and zipf.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1s")]
    warmup: Duration,
    /// Functions for cold and zipf [default: 100].
    #[arg(long, value_name = "N")]
    functions: Option<usize>,
    /// The component to deploy (signed per function name with --key).
    #[arg(long, value_name = "FILE", requires = "key")]
    wasm: Option<PathBuf>,
    /// The issuer's private key (PEM, from `wasmgate keys generate`).
    #[arg(long, value_name = "PEM", requires = "wasm")]
    key: Option<PathBuf>,
    /// The Zipf exponent s: function 0 gets 2^s times the requests of function 1.
    #[arg(long, default_value_t = 1.0)]
    zipf_exponent: f64,
    /// burst: how long to stay idle before the spike.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "2s")]
    idle: Duration,
    /// burst: how many requests the spike sends at once.
    #[arg(long, value_name = "N", default_value_t = 200)]
    burst: usize,
    /// trace: the CSV to replay (Azure Functions 2019 per-minute or 2021 per-invocation format).
    #[arg(long, value_name = "FILE")]
    trace: Option<PathBuf>,
    /// trace: replay this many times faster than recorded.
    #[arg(long, conflicts_with = "minute")]
    speedup: Option<f64>,
    /// trace: replay one trace minute in this long (`--minute 1s` = `--speedup 60`).
    #[arg(long, value_parser = humantime::parse_duration)]
    minute: Option<Duration>,
    /// Rounds per target [default: 2 with --compare, else 1].
    #[arg(long)]
    rounds: Option<usize>,
    /// Open loop: at most this many requests in flight; the rest are counted as dropped.
    #[arg(long, default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    max_in_flight: usize,
    /// A request taking longer counts as a timeout.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "10s")]
    timeout: Duration,
    /// Seed of every random choice (Poisson gaps, Zipf picks, trace placement).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write the JSON object to FILE (the table still goes to stdout).
    #[arg(long, value_name = "FILE")]
    json_out: Option<PathBuf>,
    /// overload: the slow function URL the flood calls.
    #[arg(long, value_name = "URL")]
    flood_url: Option<String>,
    /// overload: a header field every flood request carries, `NAME: VALUE` (repeatable), e.g.
    /// the credential of a protected URL.
    #[arg(long, value_name = "NAME: VALUE", value_parser = parse_header)]
    flood_header: Vec<(http::HeaderName, http::HeaderValue)>,
    /// overload, noisy: flood connections, each sending its next request when answered
    /// [default: 1000; noisy: 8].
    #[arg(long, value_name = "N")]
    flood_connections: Option<usize>,
    /// overload, noisy: fail when the probe's p99 under flood is above this [default: 50ms;
    /// noisy: 20ms].
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    max_probe_p99: Option<Duration>,
    /// No progress line on stderr.
    #[arg(long)]
    quiet: bool,
}

/// `NAME: VALUE` as a header field.
fn parse_header(text: &str) -> anyhow::Result<(http::HeaderName, http::HeaderValue)> {
    let (name, value) = text
        .split_once(':')
        .context("write a header as `NAME: VALUE`")?;
    Ok((name.trim().parse()?, value.trim().parse()?))
}

#[tokio::main]
async fn main() -> ExitCode {
    let subcommand = std::env::args().nth(1);
    let outcome = match subcommand.as_deref() {
        // The offline subcommands have their own flags; argv[1] names them.
        Some("simulate") => subcommands::simulate(subcommands::SimulateCli::parse_from(
            std::env::args().skip(1),
        )),
        Some("generate") => subcommands::generate_trace(subcommands::GenerateCli::parse_from(
            std::env::args().skip(1),
        )),
        _ => run(Cli::parse()).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line with the causes, no backtrace: these are the user's errors to fix.
            eprintln!("wasmgate-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let json = cli.json;
    let json_out = cli.json_out.clone();
    let options = options(cli)?;
    let report = wasmgate_loadtest::run(&options).await?;
    if let Some(path) = json_out {
        std::fs::write(&path, report.to_json()?)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    if json {
        println!("{}", report.to_json()?);
    } else {
        print!("{}", report.to_table());
    }
    if !report.failures.is_empty() {
        anyhow::bail!(
            "{} bound(s) not met: {}",
            report.scenario,
            report.failures.join("; ")
        );
    }
    Ok(())
}

/// Turns the flags into [`Options`], reading the files they name.
fn options(cli: Cli) -> anyhow::Result<Options> {
    let endpoint = |role: &str, url: &str, admin: Option<&str>| -> anyhow::Result<Endpoint> {
        let target = Target::parse(url)?;
        let admin = Admin::new(admin.unwrap_or(target.origin()), cli.admin_token.clone());
        Ok(Endpoint {
            role: role.to_owned(),
            target,
            admin,
        })
    };
    let mut endpoints = vec![endpoint("target", &cli.target, cli.admin.as_deref())?];
    if let Some(compare) = &cli.compare {
        endpoints.push(endpoint("compare", compare, cli.compare_admin.as_deref())?);
    }
    let load = match cli.rate {
        Some(rate) if cli.poisson => Load::Open(Schedule::Poisson {
            rate,
            seed: cli.seed,
        }),
        Some(rate) => Load::Open(Schedule::Constant { rate }),
        None if cli.scenario.probes_a_neighbour() && cli.connections.is_none() => {
            Load::Open(Schedule::Constant {
                rate: DEFAULT_PROBE_RATE,
            })
        }
        None => Load::Closed {
            connections: cli.connections.unwrap_or(DEFAULT_CONNECTIONS),
        },
    };
    let signer = match (&cli.wasm, &cli.key) {
        (Some(wasm), Some(key)) => Some(Signer::load(wasm, key)?),
        _ => None,
    };
    let trace = match &cli.trace {
        Some(path) => Some(Arc::new(
            Trace::from_path(path).with_context(|| format!("trace {}", path.display()))?,
        )),
        None => None,
    };
    let speedup = match (cli.speedup, cli.minute) {
        (Some(speedup), _) => speedup,
        (None, Some(minute)) => 60.0 / minute.as_secs_f64(),
        (None, None) => 1.0,
    };
    let overload = match &cli.flood_url {
        Some(url) => Some(Overload {
            flood_url: Target::parse(url)?,
            flood_headers: cli.flood_header.iter().cloned().collect(),
            connections: cli.flood_connections.unwrap_or(noisy_or(
                cli.scenario,
                DEFAULT_SPINNERS,
                DEFAULT_FLOOD_CONNECTIONS,
            )),
            max_probe_p99: cli.max_probe_p99.unwrap_or(noisy_or(
                cli.scenario,
                DEFAULT_MAX_NEIGHBOUR_P99,
                DEFAULT_MAX_PROBE_P99,
            )),
        }),
        None => None,
    };
    Ok(Options {
        overload,
        scenario: cli.scenario,
        rounds: cli
            .rounds
            .unwrap_or(if endpoints.len() > 1 { 2 } else { 1 }),
        endpoints,
        load,
        duration: cli.duration,
        warmup: cli.warmup,
        functions: cli.functions,
        signer,
        zipf_exponent: cli.zipf_exponent,
        idle: cli.idle,
        burst: cli.burst,
        trace,
        speedup,
        max_in_flight: cli.max_in_flight,
        timeout: cli.timeout,
        seed: cli.seed,
        progress: if cli.quiet {
            ProgressMode::Off
        } else {
            ProgressMode::Auto
        },
    })
}

/// `noisy`'s default where it differs from `overload`'s.
fn noisy_or<T>(scenario: ScenarioKind, noisy: T, otherwise: T) -> T {
    if scenario == ScenarioKind::Noisy {
        noisy
    } else {
        otherwise
    }
}
