//! The egress guard (placeholder, filled below).
mod connector;
mod refusal;
mod rules;
pub mod special_ranges;
pub use connector::{ConnectError, connect, resolve};
pub use refusal::Refusal;
pub use rules::Rules;
