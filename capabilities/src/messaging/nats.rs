//! The bus over core NATS, for several gateways sharing one message system.
//!
//! Core NATS delivers at most once: a message published while a subscriber is away, or lost
//! with a crashed server, is gone, and [`Delivery::ack`] does nothing here. Durable delivery
//! across restarts needs JetStream, which this backend does not use.
//!
//! Backlogs: core NATS gives a publisher no signal that a subscriber is behind, so a publish is
//! never refused here. What bounds a subscription is the client's buffer, set to the backlog's
//! message limit ([`NatsBus::connect_with_backlog`]): past it the client drops messages for that
//! subscription and reports a slow consumer, and the server itself cuts off a connection whose
//! pending data passes its `max_pending` (64MB by default). Refusing publishers at a bound needs a
//! JetStream stream with `max_msgs`/`max_bytes` and `discard: new`.

use super::backlog::BacklogLimits;
use super::bus::{Bus, Delivery, Message, Subscription, validate_queue};
use super::cloudevent;
use super::error::{Error, Result};
use super::subject::{Pattern, validate_subject};
use async_nats::header::HeaderMap;
use async_nats::{Client, RequestErrorKind};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::time::Duration;
use tokio::sync::mpsc;

/// The header carrying [`Message::content_type`], as in HTTP and the CloudEvents NATS binding.
const CONTENT_TYPE: &str = "Content-Type";

/// Deliveries a subscription may have queued before the forwarding task waits; NATS itself
/// buffers further and drops for slow consumers beyond its own limit.
const SUBSCRIBER_QUEUE: usize = 1024;

/// A [`Bus`] on a NATS server.
#[derive(Clone, Debug)]
pub struct NatsBus {
    client: Client,
}

impl NatsBus {
    /// Connects to the NATS server at `url` (such as `nats://127.0.0.1:4222`).
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, async_nats::ConnectOptions::new()).await
    }

    /// Connects to the NATS server at `url`, buffering at most `limits.messages` messages per
    /// subscription in the client (see the module docs for what happens past it).
    pub async fn connect_with_backlog(url: &str, limits: BacklogLimits) -> Result<Self> {
        let capacity = usize::try_from(limits.messages)
            .unwrap_or(usize::MAX)
            .max(1);
        let options = async_nats::ConnectOptions::new().subscription_capacity(capacity);
        Self::connect_with(url, options).await
    }

    async fn connect_with(url: &str, options: async_nats::ConnectOptions) -> Result<Self> {
        let client = options.connect(url).await.map_err(|e| Error::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        Ok(NatsBus { client })
    }

    async fn flush(&self) -> Result<()> {
        self.client.flush().await.map_err(|e| Error::Nats {
            operation: "flush",
            message: e.to_string(),
        })
    }
}

impl Bus for NatsBus {
    fn name(&self) -> &'static str {
        "nats"
    }

    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            validate_subject(&msg.subject)?;
            let headers = event_headers();
            let payload = cloudevent::encode(&msg);
            let subject = msg.subject;
            let sent = match msg.reply_to {
                Some(reply) => {
                    validate_subject(&reply)?;
                    self.client
                        .publish_with_reply_and_headers(subject, reply, headers, payload)
                        .await
                }
                None => {
                    self.client
                        .publish_with_headers(subject, headers, payload)
                        .await
                }
            };
            sent.map_err(|e| Error::Nats {
                operation: "publish",
                message: e.to_string(),
            })?;
            // The client only buffered it; a flush round trip means the server has it.
            self.flush().await
        })
    }

    fn subscribe(
        &self,
        pattern: String,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<Subscription>> {
        Box::pin(async move {
            let pattern = Pattern::parse(pattern)?;
            let subscribed = match queue {
                Some(queue) => {
                    validate_queue(&queue)?;
                    self.client
                        .queue_subscribe(pattern.as_str().to_owned(), queue)
                        .await
                }
                None => self.client.subscribe(pattern.as_str().to_owned()).await,
            };
            let mut subscriber = subscribed.map_err(|e| Error::Nats {
                operation: "subscribe",
                message: e.to_string(),
            })?;
            // The server must have the interest before we return, or a publish right after
            // this call could miss the new subscription.
            self.flush().await?;
            let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
            let feeder = tokio::spawn(async move {
                while let Some(msg) = subscriber.next().await {
                    if tx.send(Delivery::new(from_nats(msg), None)).await.is_err() {
                        break;
                    }
                }
            });
            Ok(Subscription::new(rx, Some(feeder.abort_handle())))
        })
    }

    fn request(&self, msg: Message, timeout: Duration) -> BoxFuture<'_, Result<Message>> {
        Box::pin(async move {
            validate_subject(&msg.subject)?;
            let request = async_nats::Request::new()
                .payload(cloudevent::encode(&msg))
                .headers(event_headers())
                .timeout(Some(timeout));
            let subject = msg.subject;
            match self.client.send_request(subject.clone(), request).await {
                Ok(reply) => Ok(from_nats(reply)),
                Err(e) => Err(match e.kind() {
                    RequestErrorKind::TimedOut => Error::Timeout {
                        subject,
                        timeout_ms: timeout.as_millis(),
                    },
                    RequestErrorKind::NoResponders => Error::NoResponders { subject },
                    _ => Error::Nats {
                        operation: "request",
                        message: e.to_string(),
                    },
                }),
            }
        })
    }
}

/// The header of a structured-mode protobuf CloudEvent.
fn event_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, cloudevent::CONTENT_TYPE);
    headers
}

/// A received NATS message as a [`Message`]: decoded from its CloudEvent when it carries one,
/// else (a plain NATS message from elsewhere) taken as it is, content type from the headers.
fn from_nats(msg: async_nats::Message) -> Message {
    let is_event = msg
        .headers
        .as_ref()
        .and_then(|h| h.get(CONTENT_TYPE))
        .is_some_and(|v| v.as_str() == cloudevent::CONTENT_TYPE);
    if is_event
        && let Some(message) = cloudevent::decode(
            msg.subject.to_string(),
            msg.reply.as_ref().map(|r| r.to_string()),
            &msg.payload,
        )
    {
        return message;
    }
    from_plain(msg)
}

/// A NATS message that is not a CloudEvent; metadata comes from its headers.
fn from_plain(msg: async_nats::Message) -> Message {
    let mut content_type = None;
    let mut metadata = Vec::new();
    for (name, values) in msg.headers.iter().flat_map(HeaderMap::iter) {
        for value in values {
            let name: &str = name.as_ref();
            if name.eq_ignore_ascii_case(CONTENT_TYPE) && content_type.is_none() {
                content_type = Some(value.as_str().to_owned());
            } else {
                metadata.push((name.to_owned(), value.as_str().to_owned()));
            }
        }
    }
    Message {
        subject: msg.subject.to_string(),
        reply_to: msg.reply.map(|r| r.to_string()),
        content_type,
        metadata,
        data: msg.payload,
    }
}
