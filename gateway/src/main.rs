//! The `wasmgate` binary: parse the command line, validate everything, then serve; or run one
//! of the offline commands, or one of the clients of a running gateway.

mod commands;

use anyhow::Context;
use clap::Parser;
use std::collections::BTreeMap;
use std::process::ExitCode;
use wasmgate::cli::{Cli, Command, KeysCommand, ServeArgs};
use wasmgate_config::{LogFormat, Overrides, Settings, Sources};

/// Exit status for bad usage or configuration (sysexits `EX_USAGE`).
const EXIT_USAGE: u8 = 64;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match cli.command {
        Command::Serve(args) => {
            let settings = match settings(&args) {
                Ok(settings) => settings,
                Err(e) => {
                    eprintln!("wasmgate: invalid configuration: {e:#}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            finish(serve(settings))
        }
        Command::Keys(KeysCommand::Generate { out, json }) => {
            finish(commands::keys::generate(&out, json))
        }
        Command::Sign(args) => finish(commands::sign::sign(&args)),
        Command::Inspect(args) => match commands::inspect::inspect(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(e) => finish(Err(e)),
        },
        Command::New(args) => match (args.list, args.name) {
            (false, Some(name)) => finish(commands::new::new(
                &name,
                &args.template,
                args.dir.as_deref(),
                args.json,
            )),
            _ => {
                commands::new::list(args.json);
                ExitCode::SUCCESS
            }
        },
        Command::Login(args) => finish(commands::login::login(&args)),
        Command::Deploy(args) => finish(commands::deploy::deploy(&args)),
        Command::Call(args) => finish(commands::call::call(&args)),
        Command::Ls(args) => finish(commands::functions::ls(&args)),
        Command::Rm(args) => finish(commands::functions::rm(&args)),
        Command::Logs(args) => finish(commands::logs::logs(&args)),
        Command::Push(args) => finish(commands::push::push(&args)),
    }
}

/// Exit status of a finished command: errors are printed with their causes.
fn finish(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wasmgate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Loads settings: defaults < file < `WASMGATE_*` environment < flags.
fn settings(args: &ServeArgs) -> anyhow::Result<Settings> {
    let env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| k.starts_with("WASMGATE_"))
        .collect();
    let listen = args
        .listen
        .as_deref()
        .map(|l| {
            l.parse()
                .with_context(|| format!("--listen {l:?} is not an address like 127.0.0.1:8080"))
        })
        .transpose()?;
    let metrics_listen = args
        .metrics_listen
        .as_deref()
        .map(|l| {
            l.parse().with_context(|| {
                format!("--metrics-listen {l:?} is not an address like 127.0.0.1:9090")
            })
        })
        .transpose()?;
    let log_format = args
        .log_format
        .as_deref()
        .map(|f| f.parse::<LogFormat>())
        .transpose()?;
    let overrides = Overrides {
        listen,
        data_dir: args.data_dir.clone(),
        trust: args.trust.clone(),
        policies: args.policies.clone(),
        log_format,
        admin_token: None,
        metrics_listen,
        insecure_open_admin: args.insecure_open_admin,
        cluster: args.cluster.clone(),
        node_id: args.node_id.clone(),
        advertise: args.advertise.clone(),
    };
    Ok(wasmgate_config::load(Sources {
        file: args.config.as_deref(),
        env: &env,
        overrides,
    })?)
}

/// Says once, on stdout, where a newly generated admin token is and how to use it (never the
/// token itself: stdout often ends up in a log); warns when the admin API is open.
fn announce_admin_access(gateway: &wasmgate::Gateway, addr: std::net::SocketAddr) {
    use wasmgate::auth::TokenOrigin;
    match gateway.access.origin() {
        Some(TokenOrigin::Generated(path)) => {
            println!(
                "wasmgate generated an admin token (first start) in {} (mode 0600); the admin API and /metrics need it:\n  curl -H \"Authorization: Bearer $(cat {})\" http://{addr}/functions",
                path.display(),
                path.display()
            );
        }
        Some(TokenOrigin::Stored(path)) => {
            tracing::info!(file = %path.display(), "admin token read from the data dir");
        }
        Some(TokenOrigin::Configured) => {}
        None => tracing::warn!(
            %addr,
            "insecure_open_admin: the admin API and /metrics are open to anyone who reaches this address"
        ),
    }
}

fn serve(settings: Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    // The OTLP exporter runs on the runtime, so it is built inside it.
    let telemetry = {
        let _in_runtime = runtime.enter();
        let node_id = settings
            .cluster
            .node_id
            .clone()
            .unwrap_or_else(|| settings.listen.to_string());
        wasmgate::telemetry::init::<tracing_subscriber::Registry>(&settings.tracing, &node_id)?
    };
    let (layer, telemetry) = match telemetry {
        Some((layer, telemetry)) => (Some(layer), Some(telemetry)),
        None => (None, None),
    };
    wasmgate::logging::init(settings.log_format, layer);
    if let Some(endpoint) = &settings.tracing.otlp_endpoint {
        tracing::info!(%endpoint, sample_ratio = settings.tracing.sample_ratio, "exporting traces over OTLP");
    }
    let served = runtime.block_on(serve_until_stopped(settings));
    if let Some(telemetry) = telemetry {
        let _in_runtime = runtime.enter();
        telemetry.shutdown();
    }
    // Dropping the runtime would wait for every task to reach a yield point, and a guest still
    // running past the grace period yields only on epoch ticks, which stop with the gateway:
    // the process would never exit. Give stragglers a moment, then leave them.
    runtime.shutdown_timeout(STRAGGLER_WAIT);
    served
}

/// How long tasks still running after the drain get before the process exits without them.
const STRAGGLER_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Binds, opens the gateway and serves until SIGTERM/SIGINT and the drain that follows.
///
/// The ports are bound first, so a port in use fails the start before anything is opened, but
/// they accept connections only once the gateway is open: a script that waits for the port to
/// answer then finds the generated admin token and a gateway that serves.
async fn serve_until_stopped(settings: Settings) -> anyhow::Result<()> {
    let socket = reserve(settings.listen)
        .with_context(|| format!("cannot listen on {}", settings.listen))?;
    let addr = socket.local_addr()?;
    let metrics_socket = match settings.metrics_listen {
        Some(at) => {
            Some(reserve(at).with_context(|| format!("cannot listen on {at} (metrics_listen)"))?)
        }
        None => None,
    };
    let grace = settings.shutdown_grace.get();
    let gateway = wasmgate::Gateway::open(settings).await?;
    let listener = socket
        .listen(LISTEN_BACKLOG)
        .with_context(|| format!("cannot listen on {addr}"))?;
    announce_admin_access(&gateway, addr);
    if let Some(socket) = metrics_socket {
        let at = socket.local_addr()?;
        let listener = socket
            .listen(LISTEN_BACKLOG)
            .with_context(|| format!("cannot listen on {at} (metrics_listen)"))?;
        println!("wasmgate metrics on http://{at}/metrics");
        tokio::spawn(wasmgate::server::metrics_listener::serve(
            gateway.clone(),
            listener,
        ));
    }
    // A plain line on stdout, for scripts and the test harness (port 0 picks a free port).
    println!("wasmgate listening on http://{addr}");
    tracing::info!(%addr, "serving");
    tokio::spawn(wasmgate::server::reload_on_sighup(gateway.clone()));
    let drained = wasmgate::server::serve(
        gateway.clone(),
        listener,
        leave_then_stop(gateway.clone()),
        grace,
    )
    .await;
    if !drained {
        tracing::warn!("shutdown grace period ended with requests still in flight");
    }
    if let Some(node) = &gateway.cluster {
        node.leave(grace).await;
    }
    Ok(())
}

/// Connections the kernel queues before the gateway accepts them (Linux caps it at
/// `net.core.somaxconn`, 4096 by default since 5.4).
const LISTEN_BACKLOG: u32 = 1024;

/// A TCP socket bound to `at` that does not accept connections yet (`listen` is called once the
/// gateway is open); `SO_REUSEADDR` as `std::net::TcpListener::bind` sets it, so a restart does not
/// wait for the old connections' TIME_WAIT.
fn reserve(at: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpSocket> {
    let socket = if at.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(at)?;
    Ok(socket)
}

/// Resolves when the gateway should stop accepting: at SIGTERM/SIGINT, or in cluster mode
/// `cluster.drain_delay` later, after leaving the home set (peers forward nothing more here once
/// they see it) and failing `/readyz` (load balancers stop sending), while it still serves.
async fn leave_then_stop(gateway: std::sync::Arc<wasmgate::Gateway>) {
    wasmgate::server::shutdown_signal().await;
    if let Some(node) = &gateway.cluster {
        gateway.start_draining();
        node.start_draining().await;
        let delay = gateway.settings.cluster.drain_delay.get();
        tracing::info!(delay = ?delay, "left the cluster's home set; still serving while peers and load balancers notice");
        tokio::time::sleep(delay).await;
    }
}
