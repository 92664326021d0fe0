//! The egress guard: one set of decisions and one resolver/connector for every connection a guest
//! (`wasi:http`, `wasi:sockets`) or the gateway on a caller's behalf (async-call callbacks) makes.
//!
//! - [`special_ranges`]: the address table, from the IANA special-purpose registries (RFC 6890
//!   and successors): loopback, private, link-local (cloud metadata), CGNAT, multicast,
//!   documentation, reserved and the rest, and the IPv6 forms that carry such an IPv4 address.
//! - [`Rules`]: one grant's decisions, pure: the host must be in the grant's signed host list
//!   (when it has one), and the address must be public or in a range the operator opened
//!   (`[egress] allow`). [`Refusal`] says which check failed.
//! - [`resolve`] / [`connect`]: resolve once, drop refused addresses, connect only to an address
//!   that passed, so a DNS answer that changes between check and connect cannot get through.
//! - [`EgressCtx`]: a function's rules, built once at deploy; it sends guests' `wasi:http`
//!   requests ([`EgressCtx::send_request`], TLS and HTTP/1.1 on the checked connection), checks
//!   `wasi:sockets` addresses ([`EgressCtx::allows_socket`]), and logs and counts refusals.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use wasmgate_capabilities::egress::{Rules, connect};
//! use wasmgate_config::{HostPattern, IpRange};
//!
//! let hosts: Vec<HostPattern> = vec!["api.example.com".parse()?, "*.svc.example.com:8443".parse()?];
//! let opened: Vec<IpRange> = vec!["10.0.0.0/8".parse()?];
//! let rules = Rules::new(Some(&hosts), &opened);
//! assert!(rules.check_host("other.example", 443).is_err());
//! assert!(rules.check_address("169.254.169.254".parse()?).is_err());
//! let (stream, address) = connect(&rules, "api.example.com", 443).await?;
//! # let _ = (stream, address); Ok(()) }
//! ```

mod connector;
mod ctx;
mod outgoing_http;
mod refusal;
mod request_body;
mod rules;
pub mod special_ranges;
mod tls;

pub use connector::{ConnectError, connect, resolve};
pub use ctx::{EgressCtx, RefusedHook};
pub use outgoing_http::{ConnectionTask, UNSET_TIMEOUT};
pub use refusal::Refusal;
pub use rules::Rules;
