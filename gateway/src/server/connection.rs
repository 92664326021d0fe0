//! One client connection from accept to close: the protocol it speaks (the HTTP/2 preface or
//! not), the byte layer's protections ([`super::conn_io`]), its bounded life (idle, age, drain),
//! and how it ended ([`super::outcome`]).

use super::conn_io::{ConnIo, Event, Inspector, Signals, reset_tcp};
use super::h1_body::H1Body;
use super::h1_framing::RequestFraming;
use super::h2_frames::{ControlFrameBudget, FrameScanner};
use super::h2_server;
pub use super::outcome::Outcome;
use crate::auth::ClientAddr;
use crate::dispatch::dispatch;
use crate::incoming::Incoming;
use crate::state::Gateway;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};

/// The HTTP/2 connection preface (RFC 9113 §3.4); anything else is HTTP/1.1.
const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Wait between looks at a connection that has sent only part of the HTTP/2 preface.
const PREFACE_POLL: Duration = Duration::from_millis(5);

/// What every connection of a server shares.
#[derive(Clone)]
pub struct ConnCtx {
    /// The gateway the requests go to.
    pub gw: Arc<Gateway>,
    /// The client.
    pub peer: SocketAddr,
    /// Turns `true` when the server drains.
    pub stop: watch::Receiver<bool>,
    /// Largest request head (HTTP/2: header list) the protocol stacks buffer, in bytes.
    pub max_head: u32,
    /// When the connection was accepted.
    pub accepted: Instant,
}

impl ConnCtx {
    /// When `http.max_connection_age` asks the connection to close, if it is set.
    pub fn age_deadline(&self) -> Option<Instant> {
        let age = self.gw.settings.http.max_connection_age.get();
        (!age.is_zero()).then(|| self.accepted + age)
    }
}

/// The protocol a client opened with.
enum Protocol {
    Http1,
    Http2,
}

/// Serves `stream` until it ends, then reports how. A client that sends nothing within
/// `http.header_read_timeout` is closed unserved and counted as refused (`header_timeout`).
pub async fn serve(ctx: ConnCtx, stream: TcpStream, h1: http1::Builder) {
    let limits = &ctx.gw.settings.http;
    let Some(protocol) = detect(&stream, limits.header_read_timeout.get()).await else {
        ctx.gw
            .metrics
            .connections_refused
            .with_label_values(&["header_timeout"])
            .inc();
        return;
    };
    let signals = Arc::new(Signals::default());
    let write_timeout = limits.write_timeout.get();
    let outcome = match protocol {
        Protocol::Http2 => {
            let budget = ControlFrameBudget {
                burst: limits.control_frame_burst,
                per_second: limits.control_frames_per_second,
            };
            let scanner = FrameScanner::new(budget, std::time::Instant::now());
            let io = ConnIo::new(
                stream,
                Inspector::Http2(scanner),
                write_timeout,
                signals.clone(),
            );
            h2_server::serve(io, signals, &ctx).await
        }
        Protocol::Http1 => {
            // Past hyper's own buffer limit, so hyper's 431 (and the gateway's JSON one below
            // it) answer oversized heads as before; the check only refuses what hyper misreads.
            let framing = RequestFraming::new((ctx.max_head as usize).saturating_mul(2));
            let io = ConnIo::new(
                stream,
                Inspector::Http1(framing),
                write_timeout,
                signals.clone(),
            )
            .with_reset(reset_tcp);
            serve_http1(io, &signals, &ctx, h1).await
        }
    };
    ctx.gw.connection_reports.record(&outcome, ctx.peer);
}

/// Waits for the client's first bytes and tells HTTP/2 (its preface) from HTTP/1.1; `None` when
/// the client closed or stayed silent for `timeout`.
async fn detect(stream: &TcpStream, timeout: Duration) -> Option<Protocol> {
    let look = async {
        let mut seen = [0u8; PREFACE.len()];
        loop {
            let n = stream.peek(&mut seen).await.ok()?;
            if n == 0 {
                return None;
            }
            if seen[..n] != PREFACE[..n] {
                return Some(Protocol::Http1);
            }
            if n == PREFACE.len() {
                return Some(Protocol::Http2);
            }
            // Part of the preface: the socket stays readable, so wait before looking again.
            tokio::time::sleep(PREFACE_POLL).await;
        }
    };
    tokio::time::timeout(timeout, look).await.ok().flatten()
}

/// HTTP/1.1 on hyper, asked to close after its current request on a drain or at its age limit.
/// Response bodies go out as [`H1Body`], so one that fails never looks complete.
async fn serve_http1(
    io: ConnIo<TcpStream>,
    signals: &Arc<Signals>,
    ctx: &ConnCtx,
    h1: http1::Builder,
) -> Outcome {
    let service = {
        let gw = ctx.gw.clone();
        let peer = ctx.peer;
        let signals = signals.clone();
        service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
            // Failed authentication is logged with the client's address.
            req.extensions_mut().insert(ClientAddr(peer));
            let version = req.version();
            let call = dispatch(gw.clone(), req.map(Incoming::Http1));
            let signals = signals.clone();
            async move {
                let response = call.await?;
                let (head, body) = response.into_parts();
                let body = H1Body::new(body, version, &head.headers, signals);
                Ok::<_, std::convert::Infallible>(http::Response::from_parts(head, body))
            }
        })
    };
    let conn = h1.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let age_deadline = ctx.age_deadline();
    let mut stop = ctx.stop.clone();
    let mut closing: Option<Outcome> = None;
    loop {
        let open = closing.is_none();
        tokio::select! {
            result = conn.as_mut() => {
                let from_io = match signals.event() {
                    Some(Event::Framing(violation)) => Some(Outcome::Framing(violation)),
                    Some(Event::WriteTimeout) => Some(Outcome::WriteTimeout),
                    Some(Event::Flood(flood)) => Some(Outcome::Flood(flood)),
                    None => None,
                };
                return from_io.or(closing).unwrap_or_else(|| match result {
                    Ok(()) => Outcome::ClientClosed,
                    Err(e) if e.is_timeout() => Outcome::Idle,
                    Err(e) if e.is_parse() || e.is_parse_too_large() => {
                        Outcome::ProtocolError(e.to_string())
                    }
                    Err(_) => Outcome::ClientClosed,
                });
            }
            () = sleep_until(age_deadline.unwrap_or_else(Instant::now)), if open && age_deadline.is_some() => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Outcome::MaxAge);
            }
            _ = stop.wait_for(|stopping| *stopping), if open => {
                conn.as_mut().graceful_shutdown();
                closing = Some(Outcome::Drained);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_control_frame_budget_is_the_scanners_recommendation() {
        let defaults = wasmgate_config::HttpSettings::default();
        assert_eq!(
            ControlFrameBudget {
                burst: defaults.control_frame_burst,
                per_second: defaults.control_frames_per_second,
            },
            ControlFrameBudget::RECOMMENDED
        );
    }

    #[test]
    fn only_the_full_preface_is_http2() {
        assert_eq!(PREFACE.len(), 24);
        assert!(PREFACE.starts_with(b"PRI * HTTP/2.0"));
    }
}
