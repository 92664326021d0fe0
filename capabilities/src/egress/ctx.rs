//! A function's egress state, built once at deploy: the rules of its network grants, and what to
//! tell when one of its connections is refused.

use super::refusal::Refusal;
use super::rules::Rules;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmgate_config::{Capability, HostPattern, IpRange};
use wasmtime_wasi::sockets::SocketAddrUse;

/// Told the reason label (`host_not_granted`, `address_denied`) of every refused connection,
/// for `wasmgate_egress_refused_total{function,reason}`.
pub type RefusedHook = Arc<dyn Fn(&'static str) + Send + Sync>;

/// One function's egress rules; cheap to clone into every instance.
#[derive(Clone)]
pub struct EgressCtx {
    inner: Arc<Inner>,
}

struct Inner {
    function: Arc<str>,
    http: Rules,
    sockets: Rules,
    on_refused: Option<RefusedHook>,
}

impl EgressCtx {
    /// The rules for `function`, whose claims grant `caps` and list `allowed_hosts` per
    /// capability, on a node that opened the special ranges `opened`; `on_refused` counts
    /// refusals. A network capability missing from `caps` refuses every destination.
    pub fn new(
        function: &str,
        caps: &[Capability],
        allowed_hosts: &BTreeMap<Capability, Vec<HostPattern>>,
        opened: &[IpRange],
        on_refused: Option<RefusedHook>,
    ) -> Self {
        let rules = |cap| {
            if caps.contains(&cap) {
                Rules::new(allowed_hosts.get(&cap).map(Vec::as_slice), opened)
            } else {
                Rules::not_granted()
            }
        };
        EgressCtx {
            inner: Arc::new(Inner {
                function: function.into(),
                http: rules(Capability::HttpOutgoing),
                sockets: rules(Capability::Sockets),
                on_refused,
            }),
        }
    }

    /// The function's name.
    pub fn function(&self) -> &str {
        &self.inner.function
    }

    /// The rules of its `http-outgoing` grant.
    pub fn http(&self) -> &Rules {
        &self.inner.http
    }

    /// The rules of its `sockets` grant.
    pub fn sockets(&self) -> &Rules {
        &self.inner.sockets
    }

    /// Logs a refused connection at warn and counts it.
    pub fn refused(
        &self,
        request_id: &str,
        host: &str,
        address: Option<SocketAddr>,
        refusal: &Refusal,
    ) {
        let address = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
        tracing::warn!(
            function = %self.inner.function,
            request_id,
            host,
            address,
            reason = refusal.reason(),
            "egress refused: {refusal}"
        );
        if let Some(hook) = &self.inner.on_refused {
            hook(refusal.reason());
        }
    }

    /// The `wasi:sockets` address check: connections and datagrams go only where the `sockets`
    /// rules allow; binding (explicit, or the implicit wildcard bind before a connect) is local
    /// and allowed; listening and accepting are refused, since a function serves through
    /// `wasi:http` only.
    pub fn allows_socket(
        &self,
        addr: SocketAddr,
        purpose: SocketAddrUse,
        request_id: &str,
    ) -> bool {
        match purpose {
            SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => true,
            SocketAddrUse::TcpListen | SocketAddrUse::TcpAccept => false,
            // A datagram from a refused address is dropped quietly: nothing went out.
            SocketAddrUse::UdpReceive => self.inner.sockets.check_socket(addr).is_ok(),
            SocketAddrUse::TcpConnect | SocketAddrUse::UdpSend => {
                match self.inner.sockets.check_socket(addr) {
                    Ok(()) => true,
                    Err(refusal) => {
                        self.refused(request_id, &addr.ip().to_string(), Some(addr), &refusal);
                        false
                    }
                }
            }
        }
    }
}

impl std::fmt::Debug for EgressCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressCtx")
            .field("function", &self.inner.function)
            .field("http", &self.inner.http)
            .field("sockets", &self.inner.sockets)
            .finish_non_exhaustive()
    }
}
