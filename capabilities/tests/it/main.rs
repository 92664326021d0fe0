//! Integration tests of `wasmgate-capabilities`: one key-value suite and one messaging suite,
//! each run against every backend, Redis and NATS as real servers the harness starts.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod backends;
mod kv;
mod messaging;
mod nats_server;
