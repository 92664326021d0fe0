//! A running `wasmgate serve` process on a free port, killed when dropped.

use crate::binary::wasmgate_bin;
use anyhow::{Context, bail};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::Capability;

/// How long components the harness signs stay valid: gateways require an expiry by default, and
/// an hour outlives any test.
pub const SIGNED_FOR: Duration = Duration::from_secs(3600);

/// How long the binary may take to print its listening line and become ready.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// Configures a gateway process before starting it.
///
/// By default the gateway trusts the harness's own issuer key, and [`Gateway::deploy`] signs every
/// component with it; [`GatewayBuilder::untrusted`] starts one that trusts nobody. It also gets a
/// fresh admin token (`WASMGATE_ADMIN_TOKEN`), which [`Gateway::client`] sends on every request;
/// tests of what an anonymous caller can do use a client of their own.
pub struct GatewayBuilder {
    listen: String,
    admin: Admin,
    data_dir: Option<PathBuf>,
    config: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    key: SigningKey,
    trust_own_key: bool,
    capture_logs: bool,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder {
            listen: "127.0.0.1:0".into(),
            admin: Admin::Token(format!("harness-admin-{}", uuid::Uuid::new_v4().simple())),
            data_dir: None,
            config: None,
            env: Vec::new(),
            args: Vec::new(),
            key: SigningKey::generate(),
            trust_own_key: true,
            capture_logs: false,
        }
    }
}

impl GatewayBuilder {
    /// Uses `dir` as the data dir (default: a fresh temp dir owned by the gateway).
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Listens on `addr` (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: &str) -> Self {
        self.listen = addr.to_owned();
        self
    }

    /// The public key of the issuer [`Gateway::deploy`] signs with.
    pub fn issuer(&self) -> String {
        self.key.issuer().to_string()
    }

    /// Passes `text` as the settings file (`--config`).
    pub fn config_toml(mut self, text: &str) -> Self {
        self.config = Some(text.to_owned());
        self
    }

    /// Sets an environment variable for the process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Adds a command-line argument after `serve`.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Starts without `--trust` for the harness's key (no trusted issuer unless added).
    pub fn untrusted(mut self) -> Self {
        self.trust_own_key = false;
        self
    }

    /// Keeps the process's log lines (stderr) for [`Gateway::logs`], still echoing them.
    pub fn capture_logs(mut self) -> Self {
        self.capture_logs = true;
        self
    }

    /// Configures `token` as the admin token (`WASMGATE_ADMIN_TOKEN`) instead of a fresh one.
    pub fn admin_token(mut self, token: &str) -> Self {
        self.admin = Admin::Token(token.to_owned());
        self
    }

    /// Configures no admin token: the gateway generates one into its data dir at first start, and
    /// the harness reads it from there.
    pub fn generated_admin_token(mut self) -> Self {
        self.admin = Admin::Generated;
        self
    }

    /// Starts with `--insecure-open-admin` and no token.
    pub fn insecure_open_admin(mut self) -> Self {
        self.admin = Admin::Open;
        self.args.push("--insecure-open-admin".into());
        self
    }

    /// Starts the process and waits until it is listening and ready.
    pub async fn start(self) -> anyhow::Result<Gateway> {
        let scratch = tempfile::tempdir()?;
        let data_dir = self
            .data_dir
            .clone()
            .unwrap_or_else(|| scratch.path().join("data"));
        let config_file = match &self.config {
            Some(text) => {
                let path = scratch.path().join("wasmgate.toml");
                std::fs::write(&path, text)?;
                Some(path)
            }
            None => None,
        };
        let mut env = self.env;
        if let Admin::Token(token) = &self.admin {
            env.push(("WASMGATE_ADMIN_TOKEN".into(), token.clone()));
        }
        let mut args = self.args;
        if self.trust_own_key {
            args.push("--trust".into());
            args.push(self.key.issuer().to_string());
        }
        let mut gateway = Gateway {
            listen: self.listen,
            admin: self.admin,
            startup_lines: Vec::new(),
            logs: self.capture_logs.then(Default::default),
            key: self.key,
            child: None,
            addr: String::new(),
            data_dir,
            config_file,
            env,
            args,
            client: client(None)?,
            _scratch: scratch,
        };
        gateway.spawn().await?;
        gateway.client = client(gateway.admin_token()?.as_deref())?;
        Ok(gateway)
    }
}

/// How the admin API of a harness gateway is secured.
enum Admin {
    /// This token is configured.
    Token(String),
    /// None configured: the gateway generates one.
    Generated,
    /// `--insecure-open-admin`.
    Open,
}

/// The harness's HTTP client, sending `Authorization: Bearer admin_token` when given one.
fn client(admin_token: Option<&str>) -> anyhow::Result<reqwest::Client> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = admin_token {
        headers.insert(
            reqwest::header::AUTHORIZATION,
            reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
    }
    Ok(reqwest::Client::builder()
        // Shorter than any header timeout a test configures (the server's keep-alive idle
        // time): a pooled connection reused just as the server closes it fails the request.
        .pool_idle_timeout(Duration::from_millis(250))
        .default_headers(headers)
        .build()?)
}

/// A running gateway; the process is killed on drop.
pub struct Gateway {
    listen: String,
    admin: Admin,
    startup_lines: Vec<String>,
    logs: Option<Arc<Mutex<Vec<String>>>>,
    key: SigningKey,
    child: Option<Child>,
    addr: String,
    data_dir: PathBuf,
    config_file: Option<PathBuf>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    client: reqwest::Client,
    _scratch: tempfile::TempDir,
}

impl Gateway {
    /// A builder with defaults: fresh data dir, no config file.
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// The command that starts this gateway (for tests that run it themselves).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(wasmgate_bin());
        cmd.arg("serve")
            .args(["--listen", &self.listen, "--data-dir"])
            .arg(&self.data_dir);
        if let Some(config) = &self.config_file {
            cmd.arg("--config").arg(config);
        }
        cmd.args(&self.args);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let stderr = if self.logs.is_some() {
            Stdio::piped()
        } else {
            Stdio::inherit()
        };
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("starting wasmgate")?;
        if let (Some(logs), Some(stderr)) = (&self.logs, child.stderr.take()) {
            let logs = logs.clone();
            let mut lines = BufReader::new(stderr).lines();
            tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    eprintln!("{line}");
                    if let Ok(mut logs) = logs.lock() {
                        logs.push(line);
                    }
                }
            });
        }
        let (addr, seen) = listening(&mut child).await?;
        self.startup_lines = seen;
        self.addr = addr;
        self.child = Some(child);
        wait_ready(&self.client, self.url("/readyz")).await
    }

    /// `http://ADDR{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The `host:port` it listens on.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Its data dir.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// What the last start printed on stdout before its listening line.
    pub fn startup_lines(&self) -> &[String] {
        &self.startup_lines
    }

    /// Log lines so far (only with [`GatewayBuilder::capture_logs`]).
    pub fn logs(&self) -> Vec<String> {
        self.logs
            .as_ref()
            .and_then(|l| l.lock().ok().map(|l| l.clone()))
            .unwrap_or_default()
    }

    /// `GET /metrics` as text.
    pub async fn metrics(&self) -> anyhow::Result<String> {
        self.get_text("/metrics").await
    }

    /// The sample of counter `family` with `labels` in `/metrics`; 0 while it has none yet.
    pub async fn counter(&self, family: &str, labels: &[(&str, &str)]) -> anyhow::Result<f64> {
        let text = self.metrics().await?;
        Ok(crate::metric_sample(&text, family, labels).unwrap_or(0.0))
    }

    /// `GET {path}`'s body as text; an error (naming status and body) unless it answered 2xx.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        let response = self.client.get(self.url(path)).send().await?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(status.is_success(), "GET {path}: {status}: {body}");
        Ok(body)
    }

    /// `GET {path}`'s body as JSON; an error unless it answered 2xx.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<serde_json::Value> {
        let text = self.get_text(path).await?;
        serde_json::from_str(&text).with_context(|| format!("GET {path}: not JSON: {text}"))
    }

    /// The deployed functions, as `GET /functions` lists them.
    pub async fn functions(&self) -> anyhow::Result<Vec<serde_json::Value>> {
        let list = self.get_json("/functions").await?;
        match list.get("functions") {
            Some(serde_json::Value::Array(functions)) => Ok(functions.clone()),
            _ => anyhow::bail!("GET /functions: no `functions` array: {list}"),
        }
    }

    /// The admin token in force (read from the data dir when generated); `None` when the admin
    /// API is open.
    pub fn admin_token(&self) -> anyhow::Result<Option<String>> {
        Ok(match &self.admin {
            Admin::Token(token) => Some(token.clone()),
            Admin::Open => None,
            Admin::Generated => {
                let path = self.data_dir.join("admin-token");
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                Some(text.trim().to_owned())
            }
        })
    }

    /// A shared HTTP client that sends the admin token on every request.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The process id, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// The issuer key this harness signs with (trusted unless built [`untrusted`](GatewayBuilder::untrusted)).
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The component at `wasm`, signed by [`key`](Self::key) for `name` with `caps`.
    pub fn sign(&self, wasm: &str, name: &str, caps: &[Capability]) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(wasm).with_context(|| format!("reading {wasm}"))?;
        self.sign_bytes(&bytes, name, caps)
    }

    /// `bytes`, signed by [`key`](Self::key) for `name` with `caps`, valid for [`SIGNED_FOR`].
    pub fn sign_bytes(
        &self,
        bytes: &[u8],
        name: &str,
        caps: &[Capability],
    ) -> anyhow::Result<Vec<u8>> {
        let options = SignOptions {
            name: name.to_owned(),
            caps: caps.to_vec(),
            expires_in: Some(SIGNED_FOR),
            ..SignOptions::default()
        };
        Ok(wasmgate_claims::sign(
            bytes,
            &self.key,
            &options,
            SystemTime::now(),
        )?)
    }

    /// `PUT /functions/{name}` with the component at `wasm`, signed for `name`, as `application/wasm`.
    pub async fn deploy(&self, name: &str, wasm: &str) -> anyhow::Result<reqwest::Response> {
        let bytes = self.sign(wasm, name, &[])?;
        self.deploy_bytes(name, bytes).await
    }

    /// `PUT /functions/{name}` with `bytes` as they are (signed or not) as `application/wasm`.
    pub async fn deploy_bytes(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<reqwest::Response> {
        Ok(self
            .client
            .put(self.url(&format!("/functions/{name}")))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await?)
    }

    /// `PUT /functions/{name}` as multipart with parts `module` and `manifest`.
    pub async fn deploy_with_manifest(
        &self,
        name: &str,
        wasm: &str,
        manifest: &str,
    ) -> anyhow::Result<reqwest::Response> {
        self.deploy_granted(name, wasm, &[], manifest).await
    }

    /// `PUT /functions/{name}` as multipart: the component at `wasm` signed for `name` with
    /// `caps` and with `manifest` (`wasmgate sign --manifest`), and `manifest`.
    pub async fn deploy_granted(
        &self,
        name: &str,
        wasm: &str,
        caps: &[Capability],
        manifest: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let bytes = self.sign_with(
            wasm,
            name,
            SignOptions {
                caps: caps.to_vec(),
                manifest: Some(manifest.as_bytes().to_vec()),
                ..SignOptions::default()
            },
        )?;
        self.deploy_parts(name, bytes, manifest).await
    }

    /// `PUT /functions/{name}` as multipart with `bytes` (signed or not, as they are) and
    /// `manifest`.
    pub async fn deploy_parts(
        &self,
        name: &str,
        bytes: Vec<u8>,
        manifest: &str,
    ) -> anyhow::Result<reqwest::Response> {
        let form = reqwest::multipart::Form::new()
            .part("module", reqwest::multipart::Part::bytes(bytes))
            .part(
                "manifest",
                reqwest::multipart::Part::text(manifest.to_owned()),
            );
        Ok(self
            .client
            .put(self.url(&format!("/functions/{name}")))
            .multipart(form)
            .send()
            .await?)
    }

    /// `GET /functions/{name}` as JSON.
    pub async fn function(&self, name: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self
            .client
            .get(self.url(&format!("/functions/{name}")))
            .send()
            .await?
            .json()
            .await?)
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().await?;
        }
        Ok(())
    }

    /// Sends SIGTERM and waits (up to 60 s) for the process to exit; returns its status.
    pub async fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("gateway is not running")?;
        let pid = child.id().context("gateway already exited")?;
        let status = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .await?;
        anyhow::ensure!(status.success(), "kill -TERM failed");
        Ok(tokio::time::timeout(Duration::from_secs(60), child.wait())
            .await
            .context("gateway did not exit after SIGTERM")??)
    }

    /// Starts the process again (after [`kill`](Self::kill) or [`terminate`](Self::terminate))
    /// on the same data dir and settings, and waits until it is ready.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "gateway is still running");
        self.spawn().await
    }

    /// Kills the process and starts it again on the same data dir and settings.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill().await?;
        self.spawn().await
    }

    /// Sets (or replaces) the environment variable `key` for the next [`restart`](Self::restart).
    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    /// Replaces the settings file (`--config`) the next [`restart`](Self::restart) reads.
    pub fn set_config_toml(&mut self, text: &str) -> anyhow::Result<()> {
        let path = self
            .config_file
            .get_or_insert_with(|| self._scratch.path().join("wasmgate.toml"))
            .clone();
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
    }

    /// Makes the next [`restart`](Self::restart) trust exactly `issuers` (`--trust` each) instead
    /// of the issuers it trusts now.
    pub fn trust_only(&mut self, issuers: &[String]) {
        let mut args = Vec::new();
        let mut old = std::mem::take(&mut self.args).into_iter();
        while let Some(arg) = old.next() {
            if arg == "--trust" {
                old.next();
            } else {
                args.push(arg);
            }
        }
        for issuer in issuers {
            args.push("--trust".into());
            args.push(issuer.clone());
        }
        self.args = args;
    }
}

/// Reads `child`'s stdout until its listening line; returns the address and the lines printed
/// before it, and keeps draining stdout so the child never blocks on a full pipe.
pub(crate) async fn listening(child: &mut Child) -> anyhow::Result<(String, Vec<String>)> {
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    let addr = tokio::time::timeout(START_DEADLINE, async {
        while let Some(line) = lines.next_line().await? {
            if let Some(addr) = line.strip_prefix("wasmgate listening on http://") {
                return Ok(addr.trim().to_owned());
            }
            seen.push(line);
        }
        bail!("wasmgate exited before listening; stdout: {seen:?}")
    })
    .await
    .context("wasmgate did not print its listening line in time")??;
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok((addr, seen))
}

/// Waits until `url` (a gateway's `/readyz`) answers 200.
pub(crate) async fn wait_ready(client: &reqwest::Client, url: String) -> anyhow::Result<()> {
    crate::eventually(
        "gateway ready",
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
    Ok(())
}
