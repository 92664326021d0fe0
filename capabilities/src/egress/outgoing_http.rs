//! Guests' `wasi:http` outgoing requests, sent through the egress guard.
//!
//! wasmtime-wasi-http's default sender hands the authority to `TcpStream::connect`, which
//! resolves and connects unchecked. This one resolves once through [`connect`], refuses what the
//! function's rules refuse (answering the guest `HTTP-request-denied` or
//! `destination-IP-prohibited`), connects to the checked address, adds TLS for `https` (SNI
//! from the host name) and speaks HTTP/1.1 under the request options' timeouts.

use super::connector::{ConnectError, connect};
use super::ctx::EgressCtx;
use super::refusal::Refusal;
use super::request_body::GuestRequestBody;
use super::tls;
use bytes::Bytes;
use futures::future::{Either, select};
use http::uri::Scheme;
use http::{Request, Response, Uri};
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use rustls::pki_types::ServerName;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, Sleep, timeout};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// A timeout the guest left unset: wasmtime-wasi-http's own default. The call's `timeout`
/// (30s unless the manifest says otherwise) ends the request long before it.
pub const UNSET_TIMEOUT: Duration = Duration::from_secs(600);

/// What keeps the connection going after the response head: the caller runs it to completion.
pub type ConnectionTask = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// A byte stream to the server: plain TCP or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

impl EgressCtx {
    /// Sends a guest's outgoing request through the guard; `request_id` is the incoming request
    /// the guest is serving, for the refusal log line.
    pub fn send_request(
        &self,
        request_id: Arc<str>,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> impl Future<Output = Result<(Response<WasiBody>, ConnectionTask), Error>> + Send + 'static
    {
        let ctx = self.clone();
        async move { send(ctx, request_id, request, options).await }
    }
}

async fn send(
    ctx: EgressCtx,
    request_id: Arc<str>,
    mut request: Request<WasiBody>,
    options: Option<RequestOptions>,
) -> Result<(Response<WasiBody>, ConnectionTask), Error> {
    let options = options.unwrap_or_default();
    let connect_timeout = options.connect_timeout.unwrap_or(UNSET_TIMEOUT);
    let first_byte_timeout = options.first_byte_timeout.unwrap_or(UNSET_TIMEOUT);
    let between_bytes = options.between_bytes_timeout.unwrap_or(UNSET_TIMEOUT);

    let uri = request.uri();
    let https = uri.scheme() == Some(&Scheme::HTTPS);
    let Some(host) = uri.host().map(str::to_owned) else {
        return Err(unsent(request, Error::HttpRequestUriInvalid));
    };
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let connected = timeout(connect_timeout, async {
        let stream = open(&ctx, &request_id, &host, port, https).await?;
        hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(Error::from)
    })
    .await
    .map_err(|_| Error::ConnectionTimeout);
    let (mut sender, connection) = match connected {
        Ok(Ok(connected)) => connected,
        Ok(Err(e)) | Err(e) => return Err(unsent(request, e)),
    };

    // The connection is made: the request line carries only the path (origin form).
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    *request.uri_mut() = Uri::try_from(path).map_err(|_| Error::HttpRequestUriInvalid)?;

    let mut connection = Box::pin(connection);
    let (response, finished) = timeout(first_byte_timeout, async {
        let sent = pin!(sender.send_request(request.map(GuestRequestBody::new)));
        // The connection must be driven while the response is awaited.
        match select(sent, connection.as_mut()).await {
            Either::Left((response, _)) => Ok((response?, false)),
            Either::Right((closed, sent)) => {
                closed?;
                Ok::<_, Error>((sent.await?, true))
            }
        }
    })
    .await
    .map_err(|_| Error::ConnectionReadTimeout)??;
    let task: ConnectionTask = if finished {
        Box::new(async { Ok(()) })
    } else {
        Box::new(async move { connection.await.map_err(Error::from) })
    };
    let response = response.map(|body| {
        TimedBody {
            inner: body,
            idle: between_bytes,
            deadline: Box::pin(tokio::time::sleep(between_bytes)),
        }
        .boxed_unsync()
    });
    Ok((response, task))
}

/// `error` for a request that will not be sent (refused, unreachable): its body is taken in and
/// dropped in the background until the guest ends it, so the guest's writes and `finish`
/// succeed and it reads the WIT error from the response future, as the request's real answer.
/// Dropping the body at once would fail the guest's next write instead, which guest libraries
/// report as a bare "connection reset" (or not, depending on who was first).
fn unsent(request: Request<WasiBody>, error: Error) -> Error {
    drop(GuestRequestBody::new(request.into_body()));
    error
}

/// A checked connection to `host:port`, with TLS for `https`; a refusal is logged and counted.
async fn open(
    ctx: &EgressCtx,
    request_id: &str,
    host: &str,
    port: u16,
    https: bool,
) -> Result<Box<dyn Stream>, Error> {
    let (tcp, _addr) = match connect(ctx.http(), host, port).await {
        Ok(connected) => connected,
        Err(ConnectError::Refused { refusal, address }) => {
            let address = address.map(|ip| SocketAddr::new(ip, port));
            ctx.refused(request_id, host, address, &refusal);
            return Err(match refusal {
                Refusal::NotGranted | Refusal::HostNotGranted => Error::HttpRequestDenied,
                Refusal::AddressDenied(_) => Error::DestinationIpProhibited,
            });
        }
        Err(ConnectError::Resolve(_) | ConnectError::NoAddress) => {
            return Err(Error::DnsError {
                rcode: Some("address not available".into()),
                info_code: None,
            });
        }
        Err(ConnectError::Connect(e)) => {
            return Err(match e.kind() {
                std::io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
                std::io::ErrorKind::TimedOut => Error::ConnectionTimeout,
                _ => Error::DestinationUnavailable,
            });
        }
    };
    if !https {
        return Ok(Box::new(tcp));
    }
    let tls = tokio_rustls::TlsConnector::from(tls::client_config())
        .connect(server_name(host)?, tcp)
        .await
        .map_err(tls_error)?;
    Ok(Box::new(tls))
}

/// The name the certificate must be valid for: the host as the guest wrote it.
fn server_name(host: &str) -> Result<ServerName<'static>, Error> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(ServerName::from(ip)),
        Err(_) => ServerName::try_from(bare.to_owned()).map_err(|_| Error::HttpRequestUriInvalid),
    }
}

/// The `wasi:http` error for a failed TLS handshake.
fn tls_error(e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_)) => Error::TlsCertificateError,
        Some(rustls::Error::AlertReceived(alert)) => Error::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        },
        _ => Error::TlsProtocolError,
    }
}

/// A response body that fails when no frame arrives for `idle` (`between-bytes-timeout`).
struct TimedBody {
    inner: Incoming,
    idle: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                this.deadline.as_mut().reset(Instant::now() + this.idle);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::Hyper(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Error::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
