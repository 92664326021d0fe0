//! Backends under test, each with whatever must outlive it (a temp dir, a Redis server).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmgate_capabilities::{KvBackend, RedbBackend, RedisBackend};

/// Where the Debian package `redis-server` installs the server.
const REDIS_SERVER: &str = "/usr/bin/redis-server";

/// How long a fresh Redis server may take to answer `PING`.
const REDIS_START_DEADLINE: Duration = Duration::from_secs(10);

/// A backend and what keeps it alive.
pub struct Fixture {
    backend: Arc<dyn KvBackend>,
    _keep: Keep,
}

#[expect(dead_code, reason = "held only so that drop cleans up")]
enum Keep {
    Dir(tempfile::TempDir),
    Redis(RedisServer),
}

impl Fixture {
    /// The backend under test.
    pub fn backend(&self) -> Arc<dyn KvBackend> {
        self.backend.clone()
    }

    /// A redb backend in a fresh temp dir.
    pub async fn redb() -> Fixture {
        Fixture::redb_with_quota(u64::MAX).await
    }

    /// A redb backend in a fresh temp dir holding each namespace to `quota` bytes.
    pub async fn redb_with_quota(quota: u64) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let backend = RedbBackend::open(&dir.path().join("kv.redb"))
            .unwrap()
            .with_quota(quota);
        Fixture {
            backend: Arc::new(backend),
            _keep: Keep::Dir(dir),
        }
    }

    /// A Redis backend on a fresh `redis-server` of its own.
    pub async fn redis() -> Fixture {
        Fixture::redis_with_quota(u64::MAX).await
    }

    /// A Redis backend on a fresh `redis-server` holding each namespace to `quota` bytes.
    pub async fn redis_with_quota(quota: u64) -> Fixture {
        let server = RedisServer::start().await;
        let backend = RedisBackend::connect(&server.url())
            .await
            .unwrap()
            .with_quota(quota);
        Fixture {
            backend: Arc::new(backend),
            _keep: Keep::Redis(server),
        }
    }
}

/// A throwaway `redis-server` on a free port, without persistence, killed on drop.
pub struct RedisServer {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts the server and waits until it answers `PING`.
    pub async fn start() -> RedisServer {
        assert!(
            Path::new(REDIS_SERVER).exists(),
            "{REDIS_SERVER} not found: the Redis backend tests need a real server; \
             install it with `apt-get install redis-server`"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(REDIS_SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {REDIS_SERVER}: {e}"));
        let server = RedisServer {
            child,
            port,
            _dir: dir,
        };
        server.wait_for_ping().await;
        server
    }

    /// The URL clients connect with.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    async fn wait_for_ping(&self) {
        let client = redis::Client::open(self.url()).unwrap();
        let deadline = Instant::now() + REDIS_START_DEADLINE;
        loop {
            let pong: Result<String, _> = match client.get_multiplexed_async_connection().await {
                Ok(mut conn) => redis::cmd("PING").query_async(&mut conn).await,
                Err(e) => Err(e),
            };
            match pong {
                Ok(_) => return,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "redis-server on port {} never answered PING: {e}",
                        self.port
                    )
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A path for a redb file that outlives one backend, for reopen tests.
pub fn redb_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("kv.redb")
}
