//! `wasi:messaging@0.2.0-draft`: a message bus with NATS subject semantics, behind [`Bus`].
//!
//! Two backends implement [`Bus`]: [`EmbeddedBus`], in process and durable in a local redb
//! file (the single-machine default), and [`NatsBus`], core NATS over `async-nats` for several
//! gateways. Subjects are dot-separated tokens; patterns add `*` (one token) and `>` (one or
//! more trailing tokens), see [`subject`].

mod bus;
mod embedded;
mod error;
mod log;
mod nats;
mod record;
pub mod subject;

pub use bus::{Bus, Delivery, Message, Subscription};
pub use embedded::EmbeddedBus;
pub use error::{Error, Result};
pub use nats::NatsBus;
