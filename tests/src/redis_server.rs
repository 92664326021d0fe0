//! A real `redis-server` on a free port for tests, killed when dropped.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

/// Where Debian's `redis-server` package installs the server; `PATH` is tried next.
const DEBIAN_PATH: &str = "/usr/bin/redis-server";

/// A running Redis server with no persistence, in a temp dir of its own.
pub struct RedisServer {
    _child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts one and waits until it answers `PING`.
    pub async fn start() -> anyhow::Result<Self> {
        let binary = if std::path::Path::new(DEBIAN_PATH).exists() {
            DEBIAN_PATH
        } else {
            "redis-server"
        };
        let port = crate::free_port::free_port()?;
        let dir = tempfile::tempdir()?;
        let child = Command::new(binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("starting {binary}: install it with `apt-get install redis-server`")
            })?;
        let server = RedisServer {
            _child: child,
            port,
            _dir: dir,
        };
        for _ in 0..100 {
            if server.ping().await.unwrap_or(false) {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("redis-server on port {port} did not answer PING")
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn ping(&self) -> anyhow::Result<bool> {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
        stream.write_all(b"PING\r\n").await?;
        let mut reply = [0u8; 7];
        stream.read_exact(&mut reply).await?;
        Ok(&reply == b"+PONG\r\n")
    }
}
