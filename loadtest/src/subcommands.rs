//! The offline subcommands of the `wasmgate-loadtest` binary: `generate` writes an Azure-shaped
//! trace, `simulate` replays a trace through the keep-alive policies. Neither talks to a server.

use anyhow::Context;
use clap::{Parser, ValueEnum};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;
use wasmgate_loadtest::generate::{DEFAULT_MAX_RATE, Shape, generate};
use wasmgate_loadtest::{Trace, simulate};
use wasmgate_sim::{
    Config, DEFAULT_BALANCE_FACTOR, DEFAULT_NODE_CAPACITY, KeepAlivePolicy, PatternParams,
    Placement,
};

/// Each node's budget without `--memory`: the gateway's default `pool.code_budget`, 1 GiB.
const DEFAULT_MEMORY: &str = "1GiB";

/// Replays a trace through wasmgate's keep-alive, eviction and placement policies on a
/// virtual clock (the node's own policy code) and reports cold starts, memory·time and the
/// nodes the load needs.
///
/// Each `--policy` (repeat it, or separate with commas) runs over the same parsed trace; with
/// `--json` each run prints one JSON object on its own line. Policies: `fixed`,
/// `fixed:DURATION`, `adaptive[:DURATION]`, `histogram[:DURATION]`, `greedy-dual[:DURATION]`,
/// `lru`, `none`.
#[derive(Debug, Parser)]
#[command(name = "wasmgate-loadtest simulate")]
pub struct SimulateCli {
    /// The trace (Azure 2021 per-invocation or 2019 per-minute CSV).
    #[arg(long, value_name = "FILE")]
    trace: PathBuf,
    /// The keep-alive policy (repeatable).
    #[arg(
        long = "policy",
        value_name = "NAME",
        required = true,
        value_delimiter = ','
    )]
    policies: Vec<KeepAlivePolicy>,
    /// Nodes; calls are routed to each function's home (bounded-load rendezvous placement).
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// Each node's budget for all layers (`512MiB`, `2GiB`, or bytes).
    #[arg(long, value_name = "BYTES", default_value = DEFAULT_MEMORY, value_parser = parse_bytes)]
    memory: u64,
    /// The costs file (JSON, see `loadtest/costs/default.json`) [default: the placeholders].
    #[arg(long, value_name = "FILE")]
    costs: Option<PathBuf>,
    /// Every function's manifest `idle_timeout` (the policies' fallback keep-alive).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "5m")]
    idle_timeout: Duration,
    /// Replay this much of the trace's start without measuring it (the policies learn).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    warmup: Duration,
    /// Width of an idle-time histogram bin (scale it down for a time-compressed trace).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "1m")]
    bin: Duration,
    /// Calls in flight one node is sized for (the gateway's `[cluster] node_capacity`).
    #[arg(long, default_value_t = DEFAULT_NODE_CAPACITY)]
    node_capacity: f64,
    /// `1 + ε` of bounded-load placement (the gateway's `[cluster] balance_factor`).
    #[arg(long, default_value_t = DEFAULT_BALANCE_FACTOR)]
    balance_factor: f64,
    /// Places a per-minute trace's calls within their minute.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print JSON (one object per policy and line) instead of tables.
    #[arg(long)]
    json: bool,
}

/// Writes an Azure-shaped trace in the Azure 2021 per-invocation format (see the
/// `wasmgate_loadtest::generate` docs for the shape and its sources).
#[derive(Debug, Parser)]
#[command(name = "wasmgate-loadtest generate")]
pub struct GenerateCli {
    /// The shape to follow.
    #[arg(long, value_enum)]
    shape: ShapeKind,
    /// Functions (each its own app).
    #[arg(long, default_value_t = 1000)]
    functions: usize,
    /// Days the trace lasts.
    #[arg(long, default_value_t = 14.0)]
    days: f64,
    /// Seed: the same arguments give the same trace.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The highest mean rate of a function, calls per minute (bounds the trace's size).
    #[arg(long, default_value_t = DEFAULT_MAX_RATE)]
    max_rate: f64,
    /// Where to write the CSV [default: stdout].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Trace shapes `generate` knows.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum ShapeKind {
    /// Serverless in the Wild's published shape of the Azure Functions trace.
    Azure,
}

/// Runs `simulate`.
pub fn simulate(cli: SimulateCli) -> anyhow::Result<()> {
    if !(cli.node_capacity.is_finite() && cli.node_capacity > 0.0) {
        anyhow::bail!("--node-capacity must be a positive number of calls, e.g. 64");
    }
    if !(cli.balance_factor.is_finite() && cli.balance_factor >= 1.0) {
        anyhow::bail!("--balance-factor must be at least 1, e.g. 1.25");
    }
    if cli.bin.is_zero() {
        anyhow::bail!("--bin must be longer than zero, e.g. 1m");
    }
    let trace =
        Trace::from_path(&cli.trace).with_context(|| format!("trace {}", cli.trace.display()))?;
    let workload = simulate::workload(trace, cli.seed)?;
    let costs = simulate::costs(cli.costs.as_deref())?;
    let mut stdout = std::io::stdout().lock();
    for (i, &policy) in cli.policies.iter().enumerate() {
        let config = Config {
            nodes: cli.nodes,
            idle_timeout: cli.idle_timeout,
            warmup: cli.warmup,
            placement: Placement {
                balance_factor: cli.balance_factor,
                node_capacity: cli.node_capacity,
            },
            params: PatternParams {
                bin: cli.bin,
                ..PatternParams::default()
            },
            ..Config::new(policy, cli.memory)
        };
        let report = wasmgate_sim::simulate(&workload, &costs, &config)?;
        if cli.json {
            writeln!(stdout, "{}", serde_json::to_string(&report)?)?;
        } else {
            if i > 0 {
                writeln!(stdout)?;
            }
            write!(stdout, "{}", report.to_table())?;
        }
    }
    Ok(())
}

/// Runs `generate`.
pub fn generate_trace(cli: GenerateCli) -> anyhow::Result<()> {
    let ShapeKind::Azure = cli.shape;
    let shape = Shape {
        functions: cli.functions,
        days: cli.days,
        seed: cli.seed,
        max_rate: cli.max_rate,
    };
    let generated = match &cli.out {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            generate(&shape, file)?
        }
        None => generate(&shape, std::io::stdout().lock())?,
    };
    eprintln!(
        "wasmgate-loadtest: {} calls of {} functions over {:.1} days",
        generated.calls,
        generated.functions,
        generated.span_s / 86_400.0
    );
    Ok(())
}

/// Bytes as a number with an optional unit: `B`, `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024) or
/// `KB`, `MB`, `GB`, `TB` (powers of 1000).
fn parse_bytes(text: &str) -> anyhow::Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("`{text}` is not a size; write it like `512MiB` or `2GiB`"))?;
    let scale: f64 = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "TiB" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        other => anyhow::bail!(
            "`{other}` is not a size unit; use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB"
        ),
    };
    let bytes = number * scale;
    if !(bytes.is_finite() && bytes < u64::MAX as f64) {
        anyhow::bail!("`{text}` is too large");
    }
    Ok(bytes.round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_bytes("512MiB").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("2GB").unwrap(), 2_000_000_000);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(
            parse_bytes("lots")
                .unwrap_err()
                .to_string()
                .contains("512MiB")
        );
        assert!(
            parse_bytes("3 parsecs")
                .unwrap_err()
                .to_string()
                .contains("size unit")
        );
    }

    #[test]
    fn a_bad_policy_name_lists_the_accepted_forms() {
        let error =
            SimulateCli::try_parse_from(["simulate", "--trace", "t.csv", "--policy", "tinylfu"])
                .unwrap_err()
                .to_string();
        assert!(error.contains("unknown policy `tinylfu`"), "{error}");
        assert!(error.contains("`fixed:DURATION`"), "{error}");
    }

    #[test]
    fn policies_may_be_repeated_or_comma_separated() {
        let cli = SimulateCli::try_parse_from([
            "simulate",
            "--trace",
            "t.csv",
            "--policy",
            "fixed:10m,adaptive",
            "--policy",
            "none",
        ])
        .unwrap();
        let names: Vec<String> = cli.policies.iter().map(|p| p.to_string()).collect();
        assert_eq!(names, ["fixed:10m", "adaptive", "none"]);
        assert_eq!(cli.memory, 1 << 30);
    }
}
