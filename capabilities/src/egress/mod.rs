//! The egress guard (placeholder, filled below).
pub mod special_ranges;
