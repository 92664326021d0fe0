//! The egress guard (placeholder, filled below).
mod connector;
mod ctx;
mod outgoing_http;
mod tls;
mod refusal;
mod rules;
pub mod special_ranges;
pub use connector::{ConnectError, connect, resolve};
pub use ctx::{EgressCtx, RefusedHook};
pub use outgoing_http::{ConnectionTask, UNSET_TIMEOUT};
pub use refusal::Refusal;
pub use rules::Rules;
