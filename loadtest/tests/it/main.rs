//! The load engines against a real HTTP server in this process: counts, not timings.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod engines;
mod server;
