//! A gateway's own command run under a shell prefix (`umask 000`, `ulimit -n 64`), for tests of
//! what the process inherits from whoever starts it.

use crate::Gateway;
use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long the wrapped binary may take to print its listening line and become ready.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// A `wasmgate serve` started as [`Gateway::command`] would, but by `sh -c '<prefix> && exec …'`;
/// killed when dropped. Stop the [`Gateway`] it came from first when both would share a data dir.
pub struct Wrapped {
    _child: Child,
    addr: String,
}

impl Wrapped {
    /// Runs `gw`'s command after the shell command `prefix` and waits until it is ready.
    pub async fn start(gw: &Gateway, prefix: &str) -> anyhow::Result<Self> {
        let command = gw.command();
        let std = command.as_std();
        let mut shell = Command::new("sh");
        shell
            .arg("-c")
            .arg(format!("{prefix} && exec \"$@\""))
            .arg("sh")
            .arg(std.get_program())
            .args(std.get_args());
        for (key, value) in std.get_envs() {
            match value {
                Some(value) => shell.env(key, value),
                None => shell.env_remove(key),
            };
        }
        let mut child = shell
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting wasmgate under sh")?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let addr = tokio::time::timeout(START_DEADLINE, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(addr) = line.strip_prefix("wasmgate listening on http://") {
                    return Ok(addr.trim().to_owned());
                }
            }
            bail!("wasmgate exited before listening")
        })
        .await
        .context("wasmgate did not print its listening line in time")??;
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let url = format!("http://{addr}/readyz");
        let client = gw.client().clone();
        crate::eventually(
            "wrapped gateway ready",
            START_DEADLINE,
            || {
                let (client, url) = (client.clone(), url.clone());
                async move {
                    client
                        .get(url)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0)
                }
            },
            |status| *status == 200,
        )
        .await?;
        Ok(Wrapped {
            _child: child,
            addr,
        })
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}
