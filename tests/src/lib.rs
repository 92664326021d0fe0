//! Test support for wasmgate: guest components built from `guests/`, and a harness that runs the
//! real `wasmgate` binary on a free port.
//!
//! It depends only on the leaf crates and an HTTP client, so `pool` and `gateway` can use it as a
//! dev-dependency without a cycle.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use wasmgate_tests::{Gateway, guests};
//! let gw = Gateway::builder().start().await?;
//! assert_eq!(gw.deploy("hello", guests::HTTP_HELLO).await?.status(), 201);
//! let body = gw.client().get(gw.url("/fn/hello")).send().await?.text().await?;
//! assert_eq!(body, "hello from wasmgate\n");
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod binary;
mod cloudevents_client;
mod cluster;
mod eventually;
mod free_port;
mod gateway;
mod metric_sample;
mod nats_server;
mod opa_server;
mod redis_server;
mod registry_server;
mod sign_with;
mod wrapped;

/// Guest components, built for wasm32-wasip2 by `build.rs`: path constants, `foreach_*!` macros.
pub mod guests {
    include!(concat!(env!("OUT_DIR"), "/guests.rs"));
}

pub use binary::{cargo_target_dir, wasmgate_bin};
pub use cloudevents_client::{CloudEventsListener, cloudevents_client};
pub use cluster::{ClusterHarness, ClusterNodeConfig, NATS_PASSWORD_ENV, NodeKeys};
pub use eventually::eventually;
pub use free_port::free_port;
pub use gateway::{Gateway, GatewayBuilder, SIGNED_FOR};
pub use metric_sample::metric_sample;
pub use nats_server::NatsServer;
pub use opa_server::OpaServer;
pub use redis_server::RedisServer;
pub use registry_server::RegistryServer;
pub use wrapped::Wrapped;
