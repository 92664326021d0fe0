//! A tiny HTTP/1 server on a free port: `/ok` answers 200, `/busy` 429 with `Retry-After`,
//! anything else 503 without, and it counts what it served.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

/// A running server; it stops with the test's runtime.
pub struct Server {
    pub base: String,
    served: Arc<AtomicU64>,
    accepted: Arc<AtomicU64>,
}

impl Server {
    pub async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let served = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&served);
        let accepted = Arc::new(AtomicU64::new(0));
        let connections = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                connections.fetch_add(1, Ordering::Relaxed);
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::Relaxed);
                        let status = match request.uri().path() {
                            "/ok" => 200,
                            "/busy" => 429,
                            _ => 503,
                        };
                        async move {
                            let mut response = Response::new(Full::new(Bytes::from_static(b"hi")));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            if status == 429 {
                                response.headers_mut().insert(
                                    "retry-after",
                                    hyper::header::HeaderValue::from_static("1"),
                                );
                            }
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            base,
            served,
            accepted,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}
