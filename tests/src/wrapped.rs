//! A gateway's own command run under a shell prefix (`umask 000`, `ulimit -n 64`), for tests of
//! what the process inherits from whoever starts it.

use crate::Gateway;
use anyhow::Context;
use std::process::Stdio;
use tokio::process::{Child, Command};

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
        let (addr, _) = crate::gateway::listening(&mut child).await?;
        crate::gateway::wait_ready(gw.client(), format!("http://{addr}/readyz")).await?;
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
