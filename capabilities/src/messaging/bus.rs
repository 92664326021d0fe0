//! The seam between the messaging host functions and a message system: [`Bus`], and the
//! messages, subscriptions and deliveries that cross it.

use super::error::{Error, Result};
use bytes::Bytes;
use futures::future::BoxFuture;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// A message system with NATS subject semantics: the backend behind `wasi:messaging`.
///
/// Implementations: [`EmbeddedBus`](super::EmbeddedBus) (in process, durable) and
/// [`NatsBus`](super::NatsBus) (core NATS). Methods return boxed futures so that the host can
/// hold an `Arc<dyn Bus>` chosen at start-up.
pub trait Bus: Send + Sync + 'static {
    /// Which backend this is, for logs and metrics: `"embedded"` or `"nats"`.
    fn name(&self) -> &'static str;

    /// Publishes `msg` on `msg.subject` and returns once the backend has accepted it.
    ///
    /// "Accepted" is as strong as the backend can make it: the embedded bus has committed the
    /// message to disk, NATS has received it at the server.
    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<()>>;

    /// Subscribes to every subject `pattern` matches (see [`subject`](super::subject)).
    ///
    /// Without `queue` the subscription receives every matching message. Subscriptions sharing
    /// a `queue` name form a group that receives each matching message once, at one member.
    /// The subscription is active when this returns, so a following publish reaches it.
    fn subscribe(
        &self,
        pattern: String,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<Subscription>>;

    /// Publishes `msg` with a fresh inbox as `reply_to` and waits up to `timeout` for the
    /// first message published on that inbox.
    ///
    /// Fails with [`Error::NoResponders`] when nothing subscribes to the subject and with
    /// [`Error::Timeout`] when no reply comes in time.
    fn request(&self, msg: Message, timeout: Duration) -> BoxFuture<'_, Result<Message>>;
}

/// One message as it travels through a [`Bus`]; plain data, any field may be set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Where the message is published: a concrete subject, no wildcards.
    pub subject: String,
    /// Where an answer should be published, for request-reply.
    pub reply_to: Option<String>,
    /// The media type of `data`.
    pub content_type: Option<String>,
    /// Key/value pairs carried with the message, such as CloudEvents `ce-*` attributes.
    ///
    /// The embedded bus keeps their order; NATS headers group values by key.
    pub metadata: Vec<(String, String)>,
    /// The payload.
    pub data: Bytes,
}

impl Message {
    /// A message for `subject` carrying `data` and nothing else.
    pub fn new(subject: impl Into<String>, data: impl Into<Bytes>) -> Self {
        Message {
            subject: subject.into(),
            reply_to: None,
            content_type: None,
            metadata: Vec::new(),
            data: data.into(),
        }
    }

    /// This message with its media type set.
    pub fn with_content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// This message with one more metadata pair.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.push((key.into(), value.into()));
        self
    }

    /// This message with a subject to answer on.
    pub fn with_reply_to(mut self, reply_to: impl Into<String>) -> Self {
        self.reply_to = Some(reply_to.into());
        self
    }
}

/// What acknowledging a delivery does; the backend decides.
pub(crate) type AckFn = Box<dyn FnOnce() -> BoxFuture<'static, Result<()>> + Send + Sync>;

/// What a delivery gives back when it goes, acknowledged or not: its place in a backlog.
pub(crate) struct Release(Option<Box<dyn FnOnce() + Send + Sync>>);

impl Release {
    pub(crate) fn new(release: impl FnOnce() + Send + Sync + 'static) -> Self {
        Release(Some(Box::new(release)))
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if let Some(release) = self.0.take() {
            release();
        }
    }
}

/// A message handed to one subscription, to be acknowledged once handled.
///
/// On the embedded bus a message stays in the durable log until every delivery of it is
/// acknowledged; one dropped without [`ack`](Delivery::ack) is delivered again after a
/// restart. Either way, the delivery holds its place in its subscription's backlog until it is
/// dropped. On NATS acknowledging does nothing: core NATS delivers at most once.
pub struct Delivery {
    message: Message,
    ack: Option<AckFn>,
    /// Why the message, which claimed to be a CloudEvent, is not a valid one.
    invalid: Option<super::cloudevent::InvalidEvent>,
    /// Frees the delivery's place in its subscription's backlog when it is dropped.
    _release: Option<Release>,
}

impl Delivery {
    pub(crate) fn new(message: Message, ack: Option<AckFn>) -> Self {
        Delivery {
            message,
            ack,
            invalid: None,
            _release: None,
        }
    }

    /// A message that claimed to be a CloudEvent and is not a valid one, as it came, and why:
    /// not for a guest's handler, for the dead-letter subject.
    pub(crate) fn invalid(message: Message, reason: super::cloudevent::InvalidEvent) -> Self {
        Delivery {
            invalid: Some(reason),
            ..Delivery::new(message, None)
        }
    }

    /// Why this message, which claimed to be a CloudEvent, is not a valid one; `None` for a
    /// message a guest may handle.
    pub fn invalid_event(&self) -> Option<&super::cloudevent::InvalidEvent> {
        self.invalid.as_ref()
    }

    /// This delivery, giving back its backlog place through `release` once handled or dropped.
    pub(crate) fn releasing(mut self, release: Release) -> Self {
        self._release = Some(release);
        self
    }

    /// The delivered message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// Takes the message out, leaving the delivery unacknowledged.
    pub fn into_message(self) -> Message {
        self.message
    }

    /// Marks the message handled; on the embedded bus this returns once that is on disk.
    pub async fn ack(self) -> Result<()> {
        match self.ack {
            Some(ack) => ack().await,
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery")
            .field("message", &self.message)
            .field("needs_ack", &self.ack.is_some())
            .field("invalid", &self.invalid)
            .finish()
    }
}

/// A live subscription: the deliveries for its pattern, in arrival order.
///
/// Dropping it unsubscribes. Deliveries already queued and not acknowledged count as not
/// handled (see [`Delivery`]).
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::Receiver<Delivery>,
    /// The task feeding `rx`, when the backend needs one; stopped when the subscription goes.
    feeder: Option<AbortHandle>,
}

impl Subscription {
    pub(crate) fn new(rx: mpsc::Receiver<Delivery>, feeder: Option<AbortHandle>) -> Self {
        Subscription { rx, feeder }
    }

    /// The next delivery, or `None` once the bus has closed this subscription.
    pub async fn next(&mut self) -> Option<Delivery> {
        self.rx.recv().await
    }
}

impl futures::Stream for Subscription {
    type Item = Delivery;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Delivery>> {
        self.rx.poll_recv(cx)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(feeder) = &self.feeder {
            feeder.abort();
        }
    }
}

/// Checks a queue group name: one NATS token-like word.
pub(crate) fn validate_queue(queue: &str) -> Result<()> {
    if queue.is_empty() || queue.chars().any(char::is_whitespace) {
        return Err(Error::InvalidQueue {
            queue: queue.to_owned(),
        });
    }
    Ok(())
}
