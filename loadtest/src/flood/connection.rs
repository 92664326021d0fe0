//! One flood connection: exactly one TCP connection at a time, HTTP/1.1, opened again only once
//! the server closed it or it failed. hyper's pooled client races a new connection against
//! waiting for the previous one to become idle, so a client that sends again the moment it is
//! answered slowly gathers spare connections, and "N connections" would not be N.

use crate::client::Reply;
use crate::error::{Error, Result};
use crate::stats::Outcome;
use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// What came back on an open connection.
struct Answer {
    status: u16,
    headers_at: Instant,
    retry_after: bool,
}

/// A connection to one URL, opened on first use.
pub(super) struct Connection {
    /// `host:port`, to connect to.
    authority: String,
    /// The request target, `/path?query`.
    path: Uri,
    /// Header fields sent with every request besides `Host`.
    headers: http::HeaderMap,
    timeout: Duration,
    sender: Option<SendRequest<Empty<Bytes>>>,
}

impl Connection {
    /// A connection for `GET uri` with `headers`; nothing is opened yet.
    pub(super) fn new(
        uri: &Uri,
        headers: &http::HeaderMap,
        timeout: Duration,
    ) -> Result<Connection> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: uri.to_string(),
            reason: reason.to_owned(),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| invalid("no host; write it as http://HOST:PORT/..."))?;
        let authority = match authority.port_u16() {
            Some(_) => authority.as_str().to_owned(),
            None => format!("{}:80", authority.host()),
        };
        let path = uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .parse()
            .map_err(|e: http::uri::InvalidUri| invalid(&e.to_string()))?;
        Ok(Connection {
            authority,
            path,
            headers: headers.clone(),
            timeout,
            sender: None,
        })
    }

    /// `GET`s the URL, reading the whole body, on the open connection or a new one; never
    /// fails, the failure is in [`Reply::outcome`] (and the connection is dropped).
    pub(super) async fn get(&mut self) -> Reply {
        let (outcome, headers_at, retry_after) =
            match tokio::time::timeout(self.timeout, self.exchange()).await {
                Ok(Ok(answer)) => (
                    Outcome::Status(answer.status),
                    Some(answer.headers_at),
                    answer.retry_after,
                ),
                Ok(Err(failed)) => (failed, None, false),
                Err(_elapsed) => (Outcome::Timeout, None, false),
            };
        if !matches!(outcome, Outcome::Status(_)) {
            // Its state is unknown after a failure: start afresh.
            self.sender = None;
        }
        Reply {
            outcome,
            headers_at,
            done_at: Instant::now(),
            retry_after,
        }
    }

    async fn exchange(&mut self) -> Result<Answer, Outcome> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.sender = Some(self.connect().await?);
        }
        let Some(sender) = self.sender.as_mut() else {
            return Err(Outcome::Connect);
        };
        sender.ready().await.map_err(|_| Outcome::Transport)?;
        let mut request = Request::get(self.path.clone())
            .header(header::HOST, self.authority.as_str())
            .body(Empty::new())
            .map_err(|_| Outcome::Transport)?;
        request.headers_mut().extend(self.headers.clone());
        let response = sender
            .send_request(request)
            .await
            .map_err(|_| Outcome::Transport)?;
        let headers_at = Instant::now();
        let retry_after = response.headers().contains_key(header::RETRY_AFTER);
        let status = response.status().as_u16();
        response
            .into_body()
            .collect()
            .await
            .map_err(|_| Outcome::Transport)?;
        Ok(Answer {
            status,
            headers_at,
            retry_after,
        })
    }

    async fn connect(&self) -> Result<SendRequest<Empty<Bytes>>, Outcome> {
        let stream = TcpStream::connect(self.authority.as_str())
            .await
            .map_err(|_| Outcome::Connect)?;
        // Without it, Nagle's algorithm can hold a small request back for tens of milliseconds.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|_| Outcome::Connect)?;
        // Drives the connection until the server closes it or the sender is dropped; how it
        // ended is seen by the next request.
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    }
}
