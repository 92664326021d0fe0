//! Integration tests of `wasmgate-capabilities` through its public API, against real backends.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod messaging;
mod nats_server;
