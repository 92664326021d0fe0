//! Integration tests of `wasmgate-capabilities` through its public API.

mod messaging;
mod nats_server;
