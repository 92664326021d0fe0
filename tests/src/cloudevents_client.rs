//! The CloudEvents clients of `cloudevents/client.py` (the official Python SDK, nats-py and the
//! compiled protobuf schema), installed by `build.rs`, run as subprocesses.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// How long one client command or one awaited message may take.
const CLIENT_DEADLINE: Duration = Duration::from_secs(30);

/// `python client.py <args>`, with bytecode kept out of the install dir.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("WASMGATE_CE_PYTHON"));
    command
        .arg("-W")
        .arg("ignore::DeprecationWarning")
        .arg(env!("WASMGATE_CE_CLIENT"))
        .args(args)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .kill_on_drop(true);
    command
}

/// Runs one client subcommand (`http-binary`, `nats-proto`, …) and returns the JSON object it
/// printed last.
pub async fn cloudevents_client(args: &[&str]) -> anyhow::Result<serde_json::Value> {
    let output = tokio::time::timeout(CLIENT_DEADLINE, command(args).output())
        .await
        .with_context(|| format!("client.py {args:?} timed out"))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "client.py {args:?} failed ({}):\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let last = stdout
        .lines()
        .last()
        .with_context(|| format!("client.py {args:?} printed nothing"))?;
    Ok(serde_json::from_str(last)?)
}

/// A `client.py listen` subscribed to a NATS subject, printing each message it receives decoded.
pub struct CloudEventsListener {
    _child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl CloudEventsListener {
    /// Subscribes to `subject` on the NATS server at `url` for `count` messages, and returns once
    /// the subscription is in place.
    pub async fn start(url: &str, subject: &str, count: usize) -> anyhow::Result<Self> {
        let count = count.to_string();
        let mut child = command(&[
            "listen",
            "--url",
            url,
            "--subject",
            subject,
            "--count",
            &count,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .context("starting client.py listen")?;
        let stdout = child.stdout.take().context("listener stdout")?;
        let mut listener = CloudEventsListener {
            _child: child,
            lines: BufReader::new(stdout).lines(),
        };
        let ready = listener.next().await?;
        if ready["ready"] != true {
            bail!("the listener did not subscribe: {ready}");
        }
        Ok(listener)
    }

    /// The next message: `{subject, headers, content_type, payload_b64, format, event}`, where
    /// `format` is `protobuf`, `json` or `plain` and `event` the decoded event.
    pub async fn next(&mut self) -> anyhow::Result<serde_json::Value> {
        let line = tokio::time::timeout(CLIENT_DEADLINE, self.lines.next_line())
            .await
            .context("no message reached the listener in time")??
            .context("the listener exited (its stderr says why)")?;
        Ok(serde_json::from_str(&line)?)
    }
}
