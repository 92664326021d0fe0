//! Host implementations of the WIT interfaces a wasmgate guest may import, each behind a
//! backend trait with an embedded default and a distributed backend.
//!
//! This crate owns the WIT files in `capabilities/wit/`, the backend traits and their
//! backends. It knows nothing of HTTP routing, instance pools or the admin API: `pool` links
//! these capabilities into a function's linker, and `gateway` decides which are granted.
//!
//! ```no_run
//! use wasmgate_capabilities::messaging::{Bus, EmbeddedBus, Message};
//!
//! # async fn run() -> wasmgate_capabilities::messaging::Result<()> {
//! let bus = EmbeddedBus::open("./wasmgate-data")?;
//! let mut orders = bus.subscribe("orders.>".into(), None).await?;
//! bus.publish(Message::new("orders.eu.42", "hello")).await?;
//! if let Some(delivery) = orders.next().await {
//!     println!("{:?}", delivery.message().data);
//!     delivery.ack().await?;
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

pub mod messaging;
