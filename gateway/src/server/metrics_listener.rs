//! The optional second listener (`metrics_listen`): `/metrics`, `/healthz` and `/readyz` only, so
//! scrapers and probes can reach a port that invokers and the admin API never share.

use super::conn_io::{ConnIo, Inspector, Signals};
use super::h1_framing::RequestFraming;
use crate::auth::ClientAddr;
use crate::error::ApiError;
use crate::health;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::Request;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Most connections the metrics listener serves at once: scrapers and probes need a handful.
const MAX_CONNECTIONS: usize = 64;

/// Serves `listener` until the process ends. On a loopback address `/metrics` needs no token
/// (the operator chose a port only local scrapers reach); on any other address it needs
/// `metrics_token` or the admin token, as on the main listener (settings refuse a non-loopback
/// `metrics_listen` without `metrics_token`).
pub async fn serve(gw: Arc<Gateway>, listener: TcpListener) {
    let open = listener
        .local_addr()
        .map(|a| a.ip().is_loopback())
        .unwrap_or(false);
    // HTTP/1.1 only (Prometheus and probes speak it), with the main listener's limits and
    // protections: header timeout, write deadline, strict framing.
    let builder = super::client_limits::http1_builder(&gw.settings.http);
    let max_head = super::client_limits::max_head(&gw.settings.http) as usize;
    let write_timeout = gw.settings.http.write_timeout.get();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, "metrics listener: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            continue;
        };
        let (gw, builder) = (gw.clone(), builder.clone());
        tokio::spawn(async move {
            let service = service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(ClientAddr(peer));
                let gw = gw.clone();
                async move { Ok::<_, Infallible>(route(&gw, &req, open)) }
            });
            let io = ConnIo::new(
                stream,
                Inspector::Http1(RequestFraming::new(max_head.saturating_mul(2))),
                write_timeout,
                Arc::new(Signals::default()),
            );
            let _ = builder.serve_connection(TokioIo::new(io), service).await;
            drop(slot);
        });
    }
}

fn route(gw: &Gateway, req: &Request<Incoming>, open: bool) -> GatewayResponse {
    let result = match req.uri().path() {
        "/metrics" if open => health::metrics(gw),
        "/metrics" => gw.access.metrics(req).and_then(|()| health::metrics(gw)),
        "/healthz" => Ok(health::healthz()),
        "/readyz" => Ok(health::readyz(gw)),
        path => Err(ApiError::NotFound {
            path: path.to_owned(),
        }),
    };
    result.unwrap_or_else(ApiError::into_response)
}
