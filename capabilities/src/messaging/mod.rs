//! `wasi:messaging@0.2.0-draft`: a message bus with NATS subject semantics, behind [`Bus`].
//!
//! Two backends implement [`Bus`]: [`EmbeddedBus`], in process and durable in a local redb
//! file (the single-machine default), and [`NatsBus`], core NATS over `async-nats` for several
//! gateways. Subjects are dot-separated tokens; patterns add `*` (one token) and `>` (one or
//! more trailing tokens), see [`subject`].

mod backlog;
mod bindings;
mod bus;
pub mod cloudevent;
mod ctx;
mod embedded;
mod error;
mod host;
mod log;
mod nats;
mod record;
pub mod subject;
pub mod trace_context;

pub use backlog::BacklogLimits;
pub use bindings::MessagingRequestReply;
pub use bus::{Bus, Delivery, Message, Subscription};
pub use ctx::{
    DEFAULT_REQUEST_TIMEOUT, MessagingCtx, MessagingUsage, MessagingView, add_to_linker,
};
pub use embedded::EmbeddedBus;
pub use error::{Error, Result};
pub use host::{Client, GuestMessage, RequestOptions};
pub use nats::{CLAIMED_CONTENT_TYPE, NatsBus};
pub use subject::Pattern;
