//! One grant's egress rules: which hosts it names, and which special ranges the operator opened.
//! Pure decisions, no I/O; [`resolve`](super::resolve) and the clients built on it apply them.

use super::refusal::Refusal;
use super::special_ranges::denied;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use wasmgate_config::{HostPattern, IpRange};

/// What one network grant may reach, built once per function at deploy time.
///
/// A destination passes in two steps: the host asked for must be in the grant's list, when it
/// has one ([`check_host`](Rules::check_host)), and every address the host resolves to must be
/// public or in a range the operator opened ([`check_address`](Rules::check_address)).
#[derive(Debug, Clone)]
pub struct Rules {
    /// Whether the claims grant the capability at all; without it every destination is refused
    /// ([`Refusal::NotGranted`]).
    granted: bool,
    /// The grant's host list; `None` allows any host.
    hosts: Option<Arc<[HostPattern]>>,
    /// Special ranges the operator opened (`[egress] allow`).
    opened: Arc<[IpRange]>,
}

impl Rules {
    /// Rules for a grant with host list `hosts` (`None`: any host) on a node that opened `opened`.
    pub fn new(hosts: Option<&[HostPattern]>, opened: &[IpRange]) -> Self {
        Rules {
            granted: true,
            hosts: hosts.map(Arc::from),
            opened: Arc::from(opened),
        }
    }

    /// Rules for a network capability the claims do not grant: its interfaces are linked (see
    /// `wasmgate_config::Need::Denied`) and every destination is refused.
    pub fn not_granted() -> Self {
        Rules {
            granted: false,
            hosts: None,
            opened: Arc::from([]),
        }
    }

    /// Whether the host a request names may be asked for at all: a host name or an IP literal
    /// (IPv6 with or without brackets) on `port`. Without a host list every host may.
    pub fn check_host(&self, host: &str, port: u16) -> Result<(), Refusal> {
        if !self.granted {
            return Err(Refusal::NotGranted);
        }
        let Some(hosts) = &self.hosts else {
            return Ok(());
        };
        let literal = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .parse::<IpAddr>();
        let listed = match literal {
            Ok(ip) => hosts.iter().any(|p| p.matches_address(ip, port)),
            Err(_) => hosts.iter().any(|p| p.matches_name(host, port)),
        };
        if listed {
            Ok(())
        } else {
            Err(Refusal::HostNotGranted)
        }
    }

    /// Whether a connection to `ip` may be made: a public address, or a special one inside a
    /// range the operator opened (and never without the grant).
    pub fn check_address(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.granted {
            return Err(Refusal::NotGranted);
        }
        match denied(ip) {
            None => Ok(()),
            Some(_) if self.opened.iter().any(|r| r.contains(ip)) => Ok(()),
            Some(denial) => Err(Refusal::AddressDenied(denial)),
        }
    }

    /// Whether a raw socket may connect to `addr`: with a host list, an address pattern must
    /// hold it (a socket has no host name); then [`check_address`](Rules::check_address).
    pub fn check_socket(&self, addr: SocketAddr) -> Result<(), Refusal> {
        if !self.granted {
            return Err(Refusal::NotGranted);
        }
        if let Some(hosts) = &self.hosts
            && !hosts
                .iter()
                .any(|p| p.matches_address(addr.ip(), addr.port()))
        {
            return Err(Refusal::HostNotGranted);
        }
        self.check_address(addr.ip())
    }
}

#[cfg(test)]
mod tests;
