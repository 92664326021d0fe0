//! The HTTP server: accept connections, serve HTTP/1.1 and HTTP/2, drain on shutdown.

use crate::auth::ClientAddr;
use crate::dispatch::dispatch;
use crate::state::Gateway;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub mod client_limits;
pub mod metrics_listener;

/// Serves on `listener` until `shutdown` resolves, then stops accepting and gives in-flight requests
/// up to `grace` to finish. Returns whether everything finished in time.
///
/// Every connection counts against `http.max_connections` from accept to close; one that sends
/// nothing within `http.header_read_timeout` is closed unserved.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) -> bool {
    let limits = gw.settings.http.clone();
    let builder = client_limits::builder(&limits);
    let header_timeout = limits.header_read_timeout.get();
    let connections = Arc::new(Semaphore::new(
        usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
    ));
    let refuser = client_limits::Refuser::default();
    let graceful = GracefulShutdown::new();
    // Connections still waiting for their first byte are not watched by `graceful` yet: this
    // tells them to give up when the drain starts.
    let (stopping, stop_seen) = tokio::sync::watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = connections.clone().try_acquire_owned() else {
                    gw.metrics.connections_refused.with_label_values(&["limit"]).inc();
                    refuser.refuse(stream);
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let gw = gw.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                let mut stop_seen = stop_seen.clone();
                tokio::spawn(async move {
                    let open = OpenConnection::new(&gw, permit);
                    let ready = tokio::select! {
                        ready = client_limits::first_byte(&stream, header_timeout) => ready,
                        _ = stop_seen.wait_for(|stopping| *stopping) => return,
                    };
                    if !ready {
                        gw.metrics.connections_refused.with_label_values(&["header_timeout"]).inc();
                        return;
                    }
                    let service = {
                        let gw = gw.clone();
                        service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                            // Failed authentication is logged with the client's address.
                            req.extensions_mut().insert(ClientAddr(peer));
                            dispatch(gw.clone(), req)
                        })
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn.into_owned()).await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    drop(open);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    gw.start_draining();
    tracing::info!(grace = ?grace, "draining in-flight requests");
    tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_ok()
}

/// A connection's place under `http.max_connections` and in `wasmgate_connections_open`, both
/// given back when it is dropped.
struct OpenConnection {
    gw: Arc<Gateway>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl OpenConnection {
    fn new(gw: &Arc<Gateway>, permit: tokio::sync::OwnedSemaphorePermit) -> Self {
        gw.metrics.connections_open.inc();
        OpenConnection {
            gw: gw.clone(),
            _permit: permit,
        }
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.gw.metrics.connections_open.dec();
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGTERM");
            return std::future::pending().await;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}

/// Reloads the admission policies on every SIGHUP, for as long as the process runs.
pub async fn reload_on_sighup(gw: Arc<Gateway>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; policies will not reload");
            return;
        }
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received: reloading admission policies");
        gw.admission.reload();
    }
}
