//! A whole test: deploy what the scenario needs, check each target answers, then run the
//! scenario's rounds, alternating between `--target` and `--compare` so neither gets the
//! quieter machine, and combine the rounds into a [`Report`].

mod burst;
mod cold;
mod noisy;
mod overload;
mod round;
mod trace;
mod warm;
mod zipf;

use crate::admin::Admin;
use crate::client::{Caller, Client};
use crate::deploy::{self, Signer};
use crate::error::{Error, Result};
use crate::progress::ProgressMode;
use crate::report::{Report, Summary, TargetReport};
use crate::schedule::Schedule;
use crate::stats::Stats;
use crate::target::{Target, function_names};
use crate::trace::Trace;
use round::Round;
use std::sync::Arc;
use std::time::Duration;

pub use noisy::{DEFAULT_MAX_NEIGHBOUR_P99, DEFAULT_SPINNERS};
pub use overload::{
    DEFAULT_FLOOD_CONNECTIONS, DEFAULT_MAX_PROBE_P99, DEFAULT_PROBE_RATE, Overload,
};

/// How long a measured run lasts unless `--duration` says otherwise.
pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

/// Connections of a closed loop unless `--connections` says otherwise: what `scripts/bench`
/// has used with wrk, so the two agree.
pub const DEFAULT_CONNECTIONS: usize = 32;

/// Functions of `cold` and `zipf` unless `--functions` says otherwise.
pub const DEFAULT_FUNCTIONS: usize = 100;

/// The workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioKind {
    /// One function, kept warm, under open- or closed-loop load.
    Warm,
    /// N functions with a tiny idle timeout, each called once after it went cold.
    Cold,
    /// N functions with Zipf popularity under open- or closed-loop load.
    Zipf,
    /// Idle, then a spike of concurrent requests at once.
    Burst,
    /// A replay of an Azure Functions trace.
    Trace,
    /// A probe on one function, alone and then while a flood of connections hammers another.
    Overload,
    /// A probe on one function, alone and then while another function's guests spin on every core.
    Noisy,
}

impl ScenarioKind {
    /// Whether it probes one function while another is flooded (`overload`, `noisy`).
    pub fn probes_a_neighbour(self) -> bool {
        matches!(self, ScenarioKind::Overload | ScenarioKind::Noisy)
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Warm => "warm",
            ScenarioKind::Cold => "cold",
            ScenarioKind::Zipf => "zipf",
            ScenarioKind::Burst => "burst",
            ScenarioKind::Trace => "trace",
            ScenarioKind::Overload => "overload",
            ScenarioKind::Noisy => "noisy",
        }
    }
}

/// How load is applied by `warm` and `zipf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Load {
    /// Requests at scheduled times, latency from the scheduled time.
    Open(Schedule),
    /// This many connections, each sending when its previous request was answered.
    Closed {
        /// Outstanding requests.
        connections: usize,
    },
}

/// A server under test and where to deploy to it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `target` or `compare`, for reports.
    pub role: String,
    /// Where requests go.
    pub target: Target,
    /// Its admin API (used only when the target has `{name}` and something must be deployed).
    pub admin: Admin,
}

/// Everything a test needs; the command line builds one.
#[derive(Clone, Debug)]
pub struct Options {
    /// The workload.
    pub scenario: ScenarioKind,
    /// `--target`, then `--compare` if given.
    pub endpoints: Vec<Endpoint>,
    /// Open or closed loop (`warm`, `zipf`).
    pub load: Load,
    /// Length of a measured run; `None` = [`DEFAULT_DURATION`] (for `trace`: the whole trace).
    pub duration: Option<Duration>,
    /// Unmeasured load before each measured run of `warm` and `zipf`.
    pub warmup: Duration,
    /// How many functions `cold` and `zipf` use; `None` = [`DEFAULT_FUNCTIONS`].
    pub functions: Option<usize>,
    /// The component and key to deploy with; without it, functions must already be deployed.
    pub signer: Option<Signer>,
    /// The Zipf exponent `s`.
    pub zipf_exponent: f64,
    /// How long `burst` waits before its spike.
    pub idle: Duration,
    /// How many requests the spike sends at once.
    pub burst: usize,
    /// The trace `trace` replays.
    pub trace: Option<Arc<Trace>>,
    /// How much faster than recorded the trace is replayed.
    pub speedup: f64,
    /// Rounds per endpoint, alternating between endpoints.
    pub rounds: usize,
    /// The open loop's bound on outstanding requests.
    pub max_in_flight: usize,
    /// How long one request may take before it counts as a timeout.
    pub timeout: Duration,
    /// Seeds every random choice (Poisson gaps, Zipf picks, trace placement).
    pub seed: u64,
    /// Whether to show progress on stderr.
    pub progress: ProgressMode,
    /// What `overload` and `noisy` flood and the bound they assert; `None` for the other scenarios.
    pub overload: Option<Overload>,
}

impl Options {
    fn duration(&self) -> Duration {
        self.duration.unwrap_or(DEFAULT_DURATION)
    }

    fn functions(&self) -> usize {
        self.functions.unwrap_or(DEFAULT_FUNCTIONS)
    }
}

/// One endpoint, ready to be measured.
struct Prepared {
    role: String,
    url: String,
    client: Client,
    caller: Caller,
    /// `http://HOST:PORT/healthz`: a URL on the same server that loads no function.
    health: http::Uri,
    admin: Admin,
    names: Vec<String>,
}

/// Runs the test `options` describes.
pub async fn run(options: &Options) -> Result<Report> {
    validate(options)?;
    let names = match options.scenario {
        ScenarioKind::Warm | ScenarioKind::Burst | ScenarioKind::Overload | ScenarioKind::Noisy => {
            function_names(1)
        }
        ScenarioKind::Cold | ScenarioKind::Zipf => function_names(options.functions()),
        ScenarioKind::Trace => {
            function_names(options.trace.as_ref().map_or(0, |t| t.functions().len()))
        }
    };
    let client = Client::new(options.timeout);
    let mut prepared = Vec::new();
    for endpoint in &options.endpoints {
        prepared.push(prepare(options, endpoint, &names, &client).await?);
    }
    if let (Some(overload), [endpoint]) = (&options.overload, prepared.as_slice())
        && options.scenario.probes_a_neighbour()
    {
        let measured = overload::run(options, endpoint, overload).await?;
        let target = TargetReport {
            role: endpoint.role.clone(),
            url: endpoint.url.clone(),
            sections: measured
                .sections
                .iter()
                .map(|(name, stats)| (name.clone(), Summary::of(stats)))
                .collect(),
            facts: measured.facts,
        };
        let mut report = Report::new(options.scenario.name(), describe(options), vec![target]);
        report.failures = measured.failures;
        return Ok(report);
    }
    let mut totals = Vec::new();
    for _ in &prepared {
        totals.push(Vec::<(String, Stats)>::new());
    }
    for round in 0..options.rounds.max(1) {
        for (endpoint, total) in prepared.iter().zip(&mut totals) {
            let this = Round {
                options,
                endpoint,
                round,
            };
            let sections = match options.scenario {
                ScenarioKind::Warm => warm::round(&this).await?,
                ScenarioKind::Cold => cold::round(&this).await?,
                ScenarioKind::Zipf => zipf::round(&this).await?,
                ScenarioKind::Burst => burst::round(&this).await?,
                ScenarioKind::Trace => trace::round(&this).await?,
                // Refused by `validate` and handled above.
                ScenarioKind::Overload | ScenarioKind::Noisy => {
                    return Err(Error::InvalidOptions(format!(
                        "`{}` runs once against one target",
                        options.scenario.name()
                    )));
                }
            };
            merge_sections(total, sections)?;
        }
    }
    let targets = prepared
        .iter()
        .zip(&totals)
        .map(|(endpoint, sections)| TargetReport {
            role: endpoint.role.clone(),
            url: endpoint.url.clone(),
            sections: sections
                .iter()
                .map(|(name, stats)| (name.clone(), Summary::of(stats)))
                .collect(),
            facts: facts(options, sections),
        })
        .collect();
    Ok(Report::new(
        options.scenario.name(),
        describe(options),
        targets,
    ))
}

/// Refuses option combinations that cannot measure what the scenario is about.
fn validate(options: &Options) -> Result<()> {
    let refuse = |message: String| Err(Error::InvalidOptions(message));
    if options.scenario == ScenarioKind::Cold
        && let Some(plain) = options.endpoints.iter().find(|e| !e.target.has_functions())
    {
        return refuse(format!(
            "`cold` needs functions that can go cold, but the {} URL `{}` has no `{{name}}` \
                 (a plain server such as `wasmtime serve` has no functions to deploy); \
                 use a gateway URL like http://HOST:PORT/fn/{{name}}",
            plain.role,
            plain.target.as_str()
        ));
    }
    if options.scenario == ScenarioKind::Trace && options.trace.is_none() {
        return refuse("`trace` needs `--trace FILE.csv`".into());
    }
    if !(options.speedup.is_finite() && options.speedup > 0.0) {
        return refuse(format!(
            "--speedup {} must be a number > 0",
            options.speedup
        ));
    }
    if options.scenario.probes_a_neighbour() {
        validate_overload(options)?;
    }
    if let Load::Open(schedule) = options.load
        && !(schedule.rate().is_finite() && schedule.rate() > 0.0)
    {
        return refuse(format!("--rate {} must be a number > 0", schedule.rate()));
    }
    Ok(())
}

/// Refuses what `overload` and `noisy` cannot do: they deploy nothing, probe one URL, run once.
fn validate_overload(options: &Options) -> Result<()> {
    let name = options.scenario.name();
    let refuse = |message: &str| Err(Error::InvalidOptions(format!("`{name}` {message}")));
    let Some(overload) = &options.overload else {
        return refuse("needs `--flood-url URL` (the function to flood)");
    };
    if options.endpoints.len() != 1 || options.rounds > 1 {
        return refuse(
            "runs once against one gateway (its baseline phase is the comparison); \
             drop --compare and --rounds",
        );
    }
    if options.signer.is_some() {
        return refuse(
            "deploys nothing; deploy the probe and flood functions first \
             (scripts/bench-overload and scripts/bench-noisy do)",
        );
    }
    if options.endpoints.iter().any(|e| e.target.has_functions())
        || overload.flood_url.has_functions()
    {
        return refuse(
            "calls two given URLs: --probe-url and --flood-url are plain function \
             URLs such as http://HOST:PORT/fn/hello, without `{name}`",
        );
    }
    if matches!(options.load, Load::Closed { .. }) {
        return refuse("probes in an open loop: use --probe-rate, not --connections");
    }
    if overload.connections == 0 {
        return refuse("needs --flood-connections of at least 1");
    }
    Ok(())
}

/// Deploys the scenario's functions to `endpoint` if it has `{name}` and there is something to
/// deploy, then checks that the first function answers, so a mistake surfaces before the test.
async fn prepare(
    options: &Options,
    endpoint: &Endpoint,
    names: &[String],
    client: &Client,
) -> Result<Prepared> {
    if endpoint.target.has_functions()
        && let Some(signer) = &options.signer
    {
        let manifest = manifest(options);
        deploy::deploy_all(
            &endpoint.admin,
            signer,
            names,
            manifest.as_deref(),
            options.progress,
        )
        .await?;
    }
    let uris = endpoint.target.uris(names)?;
    let first = uris.first().cloned();
    let caller = Caller::new(client.clone(), uris)
        .ok_or_else(|| Error::InvalidOptions("the scenario has no functions to call".to_owned()))?;
    let reply = caller.call(0).await;
    if !reply.outcome.is_ok() {
        let hint = if endpoint.target.has_functions() && options.signer.is_none() {
            "pass `--wasm FILE --key PEM` to deploy the test's functions first".to_owned()
        } else {
            "the target must answer GET with 2xx".to_owned()
        };
        return Err(Error::NotServing {
            url: first.map(|u| u.to_string()).unwrap_or_default(),
            status: match reply.outcome {
                crate::stats::Outcome::Status(s) => s,
                _ => 0,
            },
            hint,
        });
    }
    Ok(Prepared {
        role: endpoint.role.clone(),
        url: endpoint.target.as_str().to_owned(),
        client: client.clone(),
        caller,
        health: format!("{}/healthz", endpoint.target.origin())
            .parse()
            .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
                url: endpoint.target.origin().to_owned(),
                reason: e.to_string(),
            })?,
        admin: endpoint.admin.clone(),
        names: names.to_vec(),
    })
}

/// The manifest functions are deployed with: `cold` must go cold within the test, and `burst`
/// must be cold when its spike arrives; the rest keep the gateway's defaults.
fn manifest(options: &Options) -> Option<String> {
    match options.scenario {
        ScenarioKind::Cold => Some(format!(
            "[scale]\nidle_timeout = \"{}ms\"\n",
            cold::IDLE_TIMEOUT.as_millis()
        )),
        ScenarioKind::Burst => Some(format!(
            "[scale]\nidle_timeout = \"{}ms\"\n",
            burst::idle_timeout(options.idle).as_millis()
        )),
        _ => None,
    }
}

/// Adds a round's sections to the totals of its endpoint, matching by name.
fn merge_sections(total: &mut Vec<(String, Stats)>, round: Vec<(String, Stats)>) -> Result<()> {
    for (name, stats) in round {
        match total.iter_mut().find(|(n, _)| *n == name) {
            Some((_, sum)) => sum.merge(&stats)?,
            None => total.push((name, stats)),
        }
    }
    Ok(())
}

/// The scenario-specific figures of one endpoint's combined sections.
fn facts(options: &Options, sections: &[(String, Stats)]) -> Vec<(String, f64)> {
    let Some((_, stats)) = sections.first() else {
        return Vec::new();
    };
    match options.scenario {
        ScenarioKind::Zipf => zipf::facts(options.functions(), stats),
        ScenarioKind::Burst => burst::facts(options.burst, stats),
        ScenarioKind::Trace => options
            .trace
            .as_ref()
            .map(|t| trace::facts(t, options.speedup))
            .unwrap_or_default(),
        ScenarioKind::Warm | ScenarioKind::Cold | ScenarioKind::Overload | ScenarioKind::Noisy => {
            Vec::new()
        }
    }
}

/// How the test was run, in words.
fn describe(options: &Options) -> String {
    let secs = |d: Duration| humantime::format_duration(d).to_string();
    let load = match options.load {
        Load::Closed { connections } => format!("closed loop, {connections} connections"),
        Load::Open(Schedule::Constant { rate }) => format!("open loop, constant {rate} req/s"),
        Load::Open(Schedule::Poisson { rate, .. }) => format!("open loop, Poisson {rate} req/s"),
    };
    let rounds = options.rounds.max(1);
    let what = match options.scenario {
        ScenarioKind::Warm => format!(
            "one function, {load}, {} per run after {} warm-up",
            secs(options.duration()),
            secs(options.warmup)
        ),
        ScenarioKind::Zipf => format!(
            "{} functions, Zipf s={}, {load}, {} per run after {} warm-up",
            options.functions(),
            options.zipf_exponent,
            secs(options.duration()),
            secs(options.warmup)
        ),
        ScenarioKind::Cold => format!(
            "{} functions with idle_timeout {}, each called once cold (time to first byte), \
             then once warm",
            options.functions(),
            secs(cold::IDLE_TIMEOUT)
        ),
        ScenarioKind::Burst => format!(
            "idle {}, then {} requests at once; latency from the spike's start",
            secs(options.idle),
            options.burst
        ),
        ScenarioKind::Overload | ScenarioKind::Noisy => {
            let (connections, flood, bound) = options.overload.as_ref().map_or_else(
                || (0, String::new(), String::new()),
                |o| {
                    (
                        o.connections,
                        o.flood_url.as_str().to_owned(),
                        secs(o.max_probe_p99),
                    )
                },
            );
            let flood_is = if options.scenario == ScenarioKind::Noisy {
                "call a spinning function"
            } else {
                "flood"
            };
            format!(
                "probe {load} for {} alone (baseline), then for {} while {connections} \
                 connections {flood_is} {flood} (after a {} ramp); bound: flooded p99 <= {bound}, \
                 Retry-After on every 429/503",
                secs(options.duration()),
                secs(options.duration()),
                secs(overload::FLOOD_RAMP)
            )
        }
        ScenarioKind::Trace => format!(
            "trace replay at {}x, open loop{}",
            options.speedup,
            options
                .duration
                .map(|d| format!(", first {}", secs(d)))
                .unwrap_or_default()
        ),
    };
    format!("{what}; {rounds} round(s) per target")
}
