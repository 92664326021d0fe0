//! Integration tests of `wasmgate-capabilities`: one key-value suite run against every backend,
//! Redis as a real `redis-server` the harness starts.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod backends;
mod kv;
