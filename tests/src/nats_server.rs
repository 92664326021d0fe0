//! A real `nats-server` on a free port for tests, killed when dropped.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Where Debian's `nats-server` package installs the server; `PATH` is tried next.
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

/// A running NATS server.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    /// JetStream's store, when JetStream is on; kept across [`NatsServer::restart`].
    store: Option<tempfile::TempDir>,
    /// The user and password every client must present, when set.
    user: Option<(String, String)>,
}

impl NatsServer {
    /// Starts one and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        Self::launch(None).await
    }

    /// Starts one with JetStream on, its store in a temp dir of its own (cluster mode).
    pub async fn start_jetstream() -> anyhow::Result<Self> {
        Self::launch(Some(tempfile::tempdir()?)).await
    }

    /// As [`NatsServer::start_jetstream`], accepting only clients that present `user` and
    /// `password` (`--user`, `--pass`).
    pub async fn start_jetstream_with_user(user: &str, password: &str) -> anyhow::Result<Self> {
        let mut server = NatsServer {
            child: None,
            port: crate::free_port::free_port()?,
            store: Some(tempfile::tempdir()?),
            user: Some((user.to_owned(), password.to_owned())),
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn launch(store: Option<tempfile::TempDir>) -> anyhow::Result<Self> {
        let port = crate::free_port::free_port()?;
        let mut server = NatsServer {
            child: None,
            port,
            store,
            user: None,
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let binary = if std::path::Path::new(DEBIAN_PATH).exists() {
            DEBIAN_PATH
        } else {
            "nats-server"
        };
        let port = self.port;
        let mut command = Command::new(binary);
        command.args(["-a", "127.0.0.1", "-p", &port.to_string()]);
        if let Some(store) = &self.store {
            command.arg("-js").arg("-sd").arg(store.path());
        }
        if let Some((user, password)) = &self.user {
            command.arg("--user").arg(user).arg("--pass").arg(password);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("starting {binary}: install it with `apt-get install nats-server`")
            })?;
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("nats-server on port {port} did not accept connections")
    }

    /// Kills the server (SIGKILL), as a crash would.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Starts it again on the same port (and JetStream store) after [`NatsServer::stop`].
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.stop().await?;
        self.spawn().await
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
}
