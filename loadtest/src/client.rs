//! The HTTP client of the load path: keep-alive connections, `GET`, the whole body read, and
//! the instants at which headers and the last byte arrived.

use crate::stats::Outcome;
use bytes::Bytes;
use http::{Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client as Pooled;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What came back for one request.
#[derive(Clone, Copy, Debug)]
pub struct Reply {
    /// How it ended.
    pub outcome: Outcome,
    /// When the response headers arrived (time to first byte); `None` if they never did.
    pub headers_at: Option<Instant>,
    /// When the body was read to the end, or the request failed.
    pub done_at: Instant,
    /// Whether the response carried `Retry-After` (what a `429` or `503` owes its caller).
    pub retry_after: bool,
}

/// A cloneable client whose clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Pooled<HttpConnector, Empty<Bytes>>,
    timeout: Duration,
}

impl Client {
    /// A client that gives up on a request after `timeout` (counted as [`Outcome::Timeout`]).
    pub fn new(timeout: Duration) -> Client {
        let mut connector = HttpConnector::new();
        // Without it, Nagle's algorithm can hold a small request back for tens of milliseconds.
        connector.set_nodelay(true);
        let inner = Pooled::builder(TokioExecutor::new())
            // Keep every connection a closed loop opened: reconnecting would be measured.
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Client { inner, timeout }
    }

    /// `GET uri`, reading the whole body; never fails, the failure is in [`Reply::outcome`].
    pub async fn get(&self, uri: Uri) -> Reply {
        self.get_with(uri, &http::HeaderMap::new()).await
    }

    /// [`get`](Self::get) with extra header fields (e.g. the credential a protected URL needs).
    pub async fn get_with(&self, uri: Uri, headers: &http::HeaderMap) -> Reply {
        let mut headers_at = None;
        let mut retry_after = false;
        let exchange = async {
            let mut request = Request::new(Empty::new());
            *request.uri_mut() = uri;
            request.headers_mut().extend(headers.clone());
            let response = self.inner.request(request).await.map_err(|e| {
                if e.is_connect() {
                    Outcome::Connect
                } else {
                    Outcome::Transport
                }
            })?;
            headers_at = Some(Instant::now());
            retry_after = response.headers().contains_key(http::header::RETRY_AFTER);
            let status = response.status().as_u16();
            response
                .into_body()
                .collect()
                .await
                .map_err(|_| Outcome::Transport)?;
            Ok::<_, Outcome>(Outcome::Status(status))
        };
        let outcome = match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(outcome) | Err(outcome)) => outcome,
            Err(_elapsed) => Outcome::Timeout,
        };
        Reply {
            outcome,
            headers_at,
            done_at: Instant::now(),
            retry_after,
        }
    }
}

/// A [`Client`] bound to the URLs of a scenario's functions, so the load loop calls a function by
/// index and each request only clones an already parsed URL.
#[derive(Clone, Debug)]
pub struct Caller {
    client: Client,
    uris: Arc<[Uri]>,
}

impl Caller {
    /// Binds `client` to `uris`, one per function index; `None` when there are no URLs.
    pub fn new(client: Client, uris: Vec<Uri>) -> Option<Caller> {
        (!uris.is_empty()).then(|| Caller {
            client,
            uris: uris.into(),
        })
    }

    /// `GET`s function `function` (wrapping around past the last one).
    pub fn call(&self, function: usize) -> impl Future<Output = Reply> + Send + use<> {
        let client = self.client.clone();
        // `new` refuses an empty list, so the modulus is never zero.
        let uri = self.uris[function % self.uris.len()].clone();
        async move { client.get(uri).await }
    }
}
