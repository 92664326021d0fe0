//! The HTTP server: accept connections, serve HTTP/1.1 (hyper) and HTTP/2 (h2), drain on
//! shutdown. What one connection may hold and how it ends is [`connection`]'s.

use crate::state::Gateway;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tokio_util::task::TaskTracker;

pub mod client_limits;
pub mod conn_io;
pub mod connection;
pub mod date;
pub mod h1_body;
pub mod h1_framing;
pub mod h2_frames;
pub mod h2_server;
pub mod metrics_listener;
pub mod outcome;

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
    let h1 = client_limits::http1_builder(&limits);
    let max_head = client_limits::max_head(&limits);
    let connections = Arc::new(Semaphore::new(
        usize::try_from(limits.max_connections).unwrap_or(usize::MAX),
    ));
    let refuser = client_limits::Refuser::default();
    let tracker = TaskTracker::new();
    // Every connection task watches this and closes (gracefully) when the drain starts.
    let (stopping, stop) = tokio::sync::watch::channel(false);
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
                let ctx = connection::ConnCtx {
                    gw: gw.clone(),
                    peer,
                    stop: stop.clone(),
                    max_head,
                    accepted: Instant::now(),
                };
                let h1 = h1.clone();
                tracker.spawn(async move {
                    let open = OpenConnection::new(&ctx.gw, permit);
                    connection::serve(ctx, stream, h1).await;
                    drop(open);
                });
            }
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    tracker.close();
    gw.start_draining();
    tracing::info!(grace = ?grace, "draining in-flight requests");
    tokio::time::timeout(grace, tracker.wait()).await.is_ok()
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
