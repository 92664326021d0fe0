//! The egress guard (placeholder, filled below).
mod refusal;
mod rules;
pub mod special_ranges;
pub use refusal::Refusal;
pub use rules::Rules;
