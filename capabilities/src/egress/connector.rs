//! The one resolver and connector every outgoing connection goes through.
//!
//! A host is resolved once; every address the rules refuse is dropped; the connection goes to
//! exactly an address that passed. A DNS answer that changes between the check and the
//! connection cannot slip a refused address through, because nothing is looked up again.

use super::refusal::Refusal;
use super::rules::Rules;
use std::io;
use std::net::{IpAddr, SocketAddr};
use tokio::net::TcpStream;

/// Why no connection was made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The guard refused the host, or every address it resolved to.
    #[error("refused by the egress guard: {refusal}")]
    Refused {
        /// Why.
        refusal: Refusal,
        /// The first refused address, when the host resolved.
        address: Option<IpAddr>,
    },
    /// The host name did not resolve.
    #[error("cannot resolve the host: {0}")]
    Resolve(io::Error),
    /// The host name resolved to no address at all.
    #[error("the host resolved to no address")]
    NoAddress,
    /// Every allowed address refused or failed the connection; the last error.
    #[error("cannot connect: {0}")]
    Connect(io::Error),
}

/// The addresses of `host` (a name or an IP literal, IPv6 with or without brackets) on `port`
/// that `rules` allow, in resolver order. Refuses before any lookup when the host is not granted.
pub async fn resolve(
    rules: &Rules,
    host: &str,
    port: u16,
) -> Result<Vec<SocketAddr>, ConnectError> {
    rules
        .check_host(host, port)
        .map_err(|refusal| ConnectError::Refused {
            refusal,
            address: None,
        })?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let found: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(ConnectError::Resolve)?
            .collect(),
    };
    let mut first_refused = None;
    let allowed: Vec<SocketAddr> = found
        .into_iter()
        .filter(|addr| match rules.check_address(addr.ip()) {
            Ok(()) => true,
            Err(refusal) => {
                first_refused.get_or_insert((refusal, addr.ip()));
                false
            }
        })
        .collect();
    match (allowed.is_empty(), first_refused) {
        (false, _) => Ok(allowed),
        (true, Some((refusal, address))) => Err(ConnectError::Refused {
            refusal,
            address: Some(address),
        }),
        (true, None) => Err(ConnectError::NoAddress),
    }
}

/// A TCP connection to `host` on `port` through [`resolve`]: the allowed addresses are tried in
/// order and the first that accepts is returned with the address it went to.
pub async fn connect(
    rules: &Rules,
    host: &str,
    port: u16,
) -> Result<(TcpStream, SocketAddr), ConnectError> {
    let mut last = None;
    for addr in resolve(rules, host, port).await? {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok((stream, addr)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or(ConnectError::NoAddress, ConnectError::Connect))
}

#[cfg(test)]
mod tests;
