//! A real OCI registry for tests: Debian's `docker-registry` (the CNCF Distribution registry) on
//! a free port, storing blobs in a temp dir, optionally behind htpasswd (Basic) auth; killed
//! when dropped.

use anyhow::{Context, bail};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Where Debian's `docker-registry` package installs the server; `PATH` is tried next.
const DEBIAN_PATH: &str = "/usr/bin/docker-registry";

/// A running registry.
pub struct RegistryServer {
    _child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RegistryServer {
    /// Starts an open registry (anyone may pull and push) and waits until `/v2/` answers.
    pub async fn start() -> anyhow::Result<Self> {
        Self::spawn(None).await
    }

    /// Starts a registry that takes only `user` with `password` (HTTP Basic, checked against
    /// an htpasswd file with a bcrypt hash, the one format the registry reads).
    pub async fn with_user(user: &str, password: &str) -> anyhow::Result<Self> {
        let hash = bcrypt::hash(password, 4).context("hashing the test password")?;
        Self::spawn(Some(format!("{user}:{hash}\n"))).await
    }

    async fn spawn(htpasswd: Option<String>) -> anyhow::Result<Self> {
        let binary = if std::path::Path::new(DEBIAN_PATH).exists() {
            DEBIAN_PATH
        } else {
            "docker-registry"
        };
        let port = crate::free_port::free_port()?;
        let dir = tempfile::tempdir()?;
        let auth = match htpasswd {
            Some(lines) => {
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, lines)?;
                format!(
                    "auth:\n  htpasswd:\n    realm: wasmgate-tests\n    path: {}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                dir.path().join("data").display()
            ),
        )?;
        let child = Command::new(binary)
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!("starting {binary}: install it with `apt-get install docker-registry`")
            })?;
        let server = RegistryServer {
            _child: child,
            port,
            _dir: dir,
        };
        let client = reqwest::Client::new();
        for _ in 0..200 {
            // 200, or 401 behind auth: either way the registry is serving.
            if let Ok(response) = client.get(format!("{}/v2/", server.url())).send().await
                && matches!(response.status().as_u16(), 200 | 401)
            {
                return Ok(server);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("docker-registry on port {port} did not answer /v2/")
    }

    /// `127.0.0.1:PORT`, the registry host of `oci://` references.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.host())
    }
}
