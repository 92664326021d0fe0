//! A server speaking OPA's REST Data API (`POST /v1/data/{path}` with `{"input": ...}`, answering
//! `{"result": ...}`), evaluating real Rego with regorus, for testing the gateway's remote OPA client.
//!
//! No OPA server binary is installable from the registries this project may use, so this stands in
//! for one: same wire format, same language, a different Rego implementation.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

/// A running Data API server; stops when dropped.
pub struct OpaServer {
    addr: String,
    inputs: Arc<Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl OpaServer {
    /// Serves `rego` on a free port, answering after `delay`.
    pub async fn start(rego: &str, delay: Duration) -> anyhow::Result<Self> {
        let mut engine = regorus::Engine::new();
        engine.add_policy("policy.rego".into(), rego.into())?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let inputs = Arc::new(Mutex::new(Vec::new()));
        let seen = inputs.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (engine, seen) = (engine.clone(), seen.clone());
                let service = hyper::service::service_fn(move |req| {
                    answer(engine.clone(), seen.clone(), delay, req)
                });
                tokio::spawn(
                    hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .into_owned(),
                );
            }
        });
        Ok(OpaServer { addr, inputs, task })
    }

    /// `http://host:port`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every `input` received so far.
    pub fn inputs(&self) -> Vec<serde_json::Value> {
        self.inputs.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for OpaServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    mut engine: regorus::Engine,
    seen: Arc<Mutex<Vec<serde_json::Value>>>,
    delay: Duration,
    req: Request<hyper::body::Incoming>,
) -> anyhow::Result<Response<Full<Bytes>>> {
    tokio::time::sleep(delay).await;
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await?.to_bytes();
    let doc: serde_json::Value = serde_json::from_slice(&body)?;
    let input = doc.get("input").cloned().unwrap_or_default();
    if let Ok(mut seen) = seen.lock() {
        seen.push(input.clone());
    }
    let query = path
        .strip_prefix("/v1/data/")
        .map(|p| format!("data.{}", p.replace('/', ".")))
        .ok_or_else(|| anyhow::anyhow!("not a Data API path: {path}"))?;
    engine.set_input_json(&input.to_string())?;
    let results = engine.eval_query(query, false)?;
    let result = results
        .result
        .first()
        .and_then(|r| r.expressions.first())
        .map(|e| serde_json::to_value(&e.value))
        .transpose()?;
    // Like OPA: an undefined document is an empty object without `result`.
    let answer = match result {
        Some(result) => serde_json::json!({ "result": result }),
        None => serde_json::json!({}),
    };
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(answer.to_string())))?)
}
