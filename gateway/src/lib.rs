//! The wasmgate gateway: HTTP server, invocation routing, the admin API, the function registry
//! with its kept versions and traffic splits, and its restore at start (re-verifying signed
//! originals, rebuilding artifacts).
//!
//! It owns everything that knows about HTTP routes and administration; compiling and running
//! components is `wasmgate-pool`'s job, settings and manifests are `wasmgate-config`'s.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = wasmgate_config::Settings::default();
//! let listener = tokio::net::TcpListener::bind(settings.listen).await?;
//! let grace = settings.shutdown_grace.get();
//! let gateway = wasmgate::Gateway::open(settings).await?;
//! wasmgate::server::serve(gateway, listener, wasmgate::server::shutdown_signal(), grace).await;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod admin;
pub mod admission;
pub mod async_calls;
pub mod auth;
pub mod canary;
pub mod catalog;
pub mod cli;
pub mod client_body;
pub mod cluster;
pub mod dispatch;
pub mod egress_client;
pub mod error;
pub mod health;
pub mod health_check;
pub mod incoming;
pub mod invoke;
pub mod log_budget;
pub mod logging;
pub mod metrics;
pub mod oci;
pub mod originals;
pub mod publish;
pub mod quotas;
pub mod registry;
pub mod request_body;
pub mod request_head;
pub mod request_id;
pub mod response;
pub mod restore;
pub mod routes;
pub mod schedules;
pub mod secrets;
pub mod server;
pub mod state;
pub mod telemetry;
#[cfg(test)]
mod test_fixtures;
pub mod traffic;
pub mod triggers;

pub use error::ApiError;
pub use state::Gateway;
