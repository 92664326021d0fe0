//! Builds a pool in a temp dir and deploys test guests into it.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::time::Duration;
use wasmgate_config::{Capability, CapabilitySet, FunctionDefaults, Manifest, PoolSettings};
use wasmgate_pool::{Function, FunctionSpec, Pool};

/// Fails to compile when a guest has no module declaring that it `covers!` it.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the marker exists")]
        use crate::covered::$name as _;
    };
}
pub(crate) use assert_test_exists;

/// Declares which guests a test module exercises.
macro_rules! covers {
    ($($name:ident),* $(,)?) => {
        $(
            #[expect(dead_code, reason = "a marker for assert_test_exists")]
            pub(crate) fn $name() {}
        )*
    };
}
pub(crate) use covers;

pub struct TestPool {
    pub pool: Pool,
    pub settings: PoolSettings,
    pub kv: std::sync::Arc<wasmgate_capabilities::RedbBackend>,
    /// The bus guests publish on, to subscribe to from a test.
    pub bus: std::sync::Arc<wasmgate_capabilities::messaging::EmbeddedBus>,
    _dir: tempfile::TempDir,
}

impl TestPool {
    pub fn new() -> Self {
        Self::with(PoolSettings::default())
    }

    pub fn with(settings: PoolSettings) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pool = Pool::open(&settings, dir.path()).unwrap();
        let kv = wasmgate_capabilities::RedbBackend::open(&dir.path().join("kv.redb")).unwrap();
        TestPool {
            pool,
            settings,
            kv: std::sync::Arc::new(kv),
            bus: std::sync::Arc::new(
                wasmgate_capabilities::messaging::EmbeddedBus::open(dir.path()).unwrap(),
            ),
            _dir: dir,
        }
    }

    /// Key-value access for a function named `name` with no shared buckets.
    pub fn kv_for(&self, name: &str) -> wasmgate_capabilities::KvCtx {
        wasmgate_capabilities::KvCtx::new(
            self.kv.clone(),
            wasmgate_capabilities::KvScope::new(name, Vec::<String>::new()).unwrap(),
        )
    }

    /// Deploys the guest at `path` under `name` with a manifest given as TOML.
    pub fn deploy(&self, name: &str, path: &str, manifest: &str) -> Function {
        self.deploy_granted(name, path, &[], manifest)
    }

    /// Deploys the guest at `path` under `name`, granted `caps`, with a manifest given as TOML.
    pub fn deploy_granted(
        &self,
        name: &str,
        path: &str,
        caps: &[Capability],
        manifest: &str,
    ) -> Function {
        let grants: CapabilitySet = caps.iter().copied().collect();
        let module = std::fs::read(path).unwrap();
        let compiled = self.pool.compile(&module, grants).unwrap();
        let manifest = Manifest::from_toml(manifest).unwrap();
        self.pool.function(FunctionSpec {
            name: name.into(),
            artifact: compiled.artifact,
            artifact_size: compiled.artifact_size,
            grants,
            on_cold_start: None,
            config: Default::default(),
            kv: self.kv_for(name),
            messaging: wasmgate_capabilities::messaging::MessagingCtx::new(self.bus.clone()),
            egress: wasmgate_capabilities::egress::EgressCtx::new(
                name,
                &[],
                &Default::default(),
                &[],
                None,
            ),
            settings: manifest
                .resolve(&FunctionDefaults::default(), &self.settings)
                .unwrap(),
        })
    }
}

pub fn get(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(format!("http://localhost{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// Calls and returns status and body text.
pub async fn call(function: &Function, req: http::Request<Full<Bytes>>) -> (u16, String) {
    let response = function.call(req).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// Polls `check` every 20 ms until it holds or `deadline` passes.
pub async fn eventually(deadline: Duration, mut check: impl FnMut() -> bool) -> bool {
    let until = tokio::time::Instant::now() + deadline;
    while tokio::time::Instant::now() < until {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    check()
}
