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
//!
//! Wire forms (the CloudEvents NATS Protocol Binding 1.0): an event is sent in structured mode,
//! the whole event in the payload in the configured [`Format`] (protobuf by default) with its
//! media type as `Content-Type`; metadata that is not a CloudEvents attribute travels as NATS
//! headers. A plain message is a plain NATS message: its data as the payload, its content type
//! and metadata as headers. On receipt, a `Content-Type` naming a CloudEvents format (compared
//! as a media type) is decoded in that format, `ce-*` headers are read as binary mode, anything
//! else is a plain message; a message that claims to be an event and is not a valid one is
//! delivered as [`Delivery::invalid`], for the dead-letter subject, never as an event.

use super::backlog::BacklogLimits;
use super::bus::{Bus, Delivery, Message, Subscription, validate_queue};
use super::cloudevent::{self, Format, InvalidEvent, http_binding, media_type};
use super::error::{Error, Result};
use super::subject::{Pattern, validate_subject};
use async_nats::header::{HeaderMap, HeaderName, HeaderValue};
use async_nats::{Client, RequestErrorKind};
use futures::StreamExt;
use futures::future::BoxFuture;
use std::str::FromStr as _;
use std::time::Duration;
use tokio::sync::mpsc;

/// The header carrying [`Message::content_type`], as in HTTP and the CloudEvents NATS binding.
const CONTENT_TYPE: &str = "Content-Type";

/// Where a message that claimed to be an event but was not keeps the content type it claimed
/// (its own content type becomes `application/octet-stream`: the payload is raw bytes).
pub const CLAIMED_CONTENT_TYPE: &str = "wasmgate-content-type";

/// What the `ce-` headers of a message that is not a valid event are renamed to, prefixed.
pub const ORIGINAL_HEADER_PREFIX: &str = "wasmgate-header-";

/// The content type of an undecodable payload handed on as it came.
const OCTET_STREAM: &str = "application/octet-stream";

/// Deliveries a subscription may have queued before the forwarding task waits; NATS itself
/// buffers further and drops for slow consumers beyond its own limit.
const SUBSCRIBER_QUEUE: usize = 1024;

/// A [`Bus`] on a NATS server.
#[derive(Clone, Debug)]
pub struct NatsBus {
    client: Client,
    format: Format,
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

    /// As [`NatsBus::connect_with_backlog`], but returns at once when the server is down and
    /// keeps connecting in the background (cluster mode: a node starts and serves its last view
    /// while NATS is away; publishes fail until it is back). `user_password` is the NATS user
    /// and password the server asks for, if it does (the cluster's `nats_user`).
    pub async fn connect_with_backlog_retrying(
        url: &str,
        limits: BacklogLimits,
        user_password: Option<(String, String)>,
    ) -> Result<Self> {
        let capacity = usize::try_from(limits.messages)
            .unwrap_or(usize::MAX)
            .max(1);
        let mut options = async_nats::ConnectOptions::new();
        if let Some((user, password)) = user_password {
            options = options.user_and_password(user, password);
        }
        let options = options
            .subscription_capacity(capacity)
            .retry_on_initial_connect();
        Self::connect_with(url, options).await
    }

    async fn connect_with(url: &str, options: async_nats::ConnectOptions) -> Result<Self> {
        let client = options.connect(url).await.map_err(|e| Error::Connect {
            url: url.to_owned(),
            message: e.to_string(),
        })?;
        Ok(NatsBus {
            client,
            format: Format::Protobuf,
        })
    }

    /// This bus, sending events in `format` (protobuf unless set; both are read).
    pub fn with_event_format(mut self, format: Format) -> Self {
        self.format = format;
        self
    }

    /// Refuses a message the server would refuse: payload and headers over the server's
    /// `max_payload` (1 MiB by default), as [`Error::TooLargeForServer`], a size no retry fixes.
    fn check_size(&self, headers: &HeaderMap, payload: &bytes::Bytes) -> Result<()> {
        let limit = self.client.server_info().max_payload;
        let header_bytes: usize = headers
            .iter()
            .map(|(name, values)| {
                values
                    .iter()
                    .map(|v| AsRef::<str>::as_ref(name).len() + v.as_str().len() + 4)
                    .sum::<usize>()
            })
            .sum();
        let size = payload.len() + header_bytes;
        if limit > 0 && size > limit {
            return Err(Error::TooLargeForServer {
                size: u64::try_from(size).unwrap_or(u64::MAX),
                limit: u64::try_from(limit).unwrap_or(u64::MAX),
            });
        }
        Ok(())
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
            let (headers, payload) = to_nats(&msg, self.format)?;
            self.check_size(&headers, &payload)?;
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
                    let delivery = match from_nats(msg) {
                        Received::Message(message) => Delivery::new(message, None),
                        Received::Invalid(raw, reason) => Delivery::invalid(raw, reason),
                    };
                    if tx.send(delivery).await.is_err() {
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
            let (headers, payload) = to_nats(&msg, self.format)?;
            self.check_size(&headers, &payload)?;
            let request = async_nats::Request::new()
                .payload(payload)
                .headers(headers)
                .timeout(Some(timeout));
            let subject = msg.subject;
            match self.client.send_request(subject.clone(), request).await {
                Ok(reply) => match from_nats(reply) {
                    Received::Message(message) => Ok(message),
                    Received::Invalid(_, reason) => Err(Error::InvalidEvent(reason)),
                },
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

/// `msg` as NATS headers and payload: an event in structured mode in `format`, its other
/// metadata as headers; a plain message as its data with its content type and metadata as
/// headers. Refused when its `ce-` metadata is not a valid event or a key or value cannot be a
/// NATS header.
fn to_nats(msg: &Message, format: Format) -> Result<(HeaderMap, bytes::Bytes)> {
    let mut headers = HeaderMap::new();
    let event = cloudevent::from_message(msg).map_err(Error::InvalidEvent)?;
    let payload = match &event {
        Some(event) => {
            headers.insert(CONTENT_TYPE, format.content_type());
            format.encode(event).map_err(Error::InvalidEvent)?
        }
        None => {
            if let Some(content_type) = &msg.content_type {
                headers.insert(CONTENT_TYPE, header_value(CONTENT_TYPE, content_type)?);
            }
            msg.data.clone()
        }
    };
    for (key, value) in &msg.metadata {
        if event.is_some() && cloudevent::is_attribute_key(key) {
            continue;
        }
        let name = HeaderName::from_str(key).map_err(|e| Error::InvalidMetadata {
            key: key.clone(),
            reason: e.to_string(),
        })?;
        headers.append(name, header_value(key, value)?);
    }
    Ok((headers, payload))
}

fn header_value(key: &str, value: &str) -> Result<HeaderValue> {
    HeaderValue::from_str(value).map_err(|e| Error::InvalidMetadata {
        key: key.to_owned(),
        reason: e.to_string(),
    })
}

/// What a received NATS message is.
enum Received {
    /// A plain message, or an event as its canonical message.
    Message(Message),
    /// A message that claims to be an event and is not a valid one: as it came (payload as
    /// data, labelled `application/octet-stream`, the claimed type under
    /// [`CLAIMED_CONTENT_TYPE`]), and why.
    Invalid(Message, InvalidEvent),
}

/// A received NATS message: an event in structured mode when its `Content-Type` names a
/// CloudEvents format, in binary mode when it has `ce-` headers, else a plain message.
fn from_nats(msg: async_nats::Message) -> Received {
    let plain = from_plain(msg);
    let essence = plain.content_type.as_deref().and_then(media_type::essence);
    let format = essence.as_deref().and_then(Format::of_essence);
    let decoded = match format {
        None if essence.as_deref().is_some_and(media_type::is_cloudevents) => {
            Err(InvalidEvent::whole(format!(
                "{} is a CloudEvents media type this gateway does not read: send one event per message as {} or {}",
                essence.unwrap_or_default(),
                Format::Protobuf.content_type(),
                Format::Json.content_type()
            )))
        }
        None => binary_mode(&plain).and_then(cloudevent::canonical),
        Some(format) => format.decode(&plain.data).map(|event| {
            cloudevent::to_message(
                plain.subject.clone(),
                plain.reply_to.clone(),
                &event,
                plain
                    .metadata
                    .iter()
                    .filter(|(k, _)| !cloudevent::is_attribute_key(k))
                    .cloned(),
            )
        }),
    };
    match decoded {
        Ok(message) => Received::Message(message),
        Err(reason) => {
            let mut raw = plain;
            // Its `ce-` headers are not an event's attributes: they travel on as
            // `wasmgate-header-ce-…`, so the dead letter is a plain message.
            for (key, _) in &mut raw.metadata {
                if cloudevent::is_attribute_key(key) {
                    *key = format!("{ORIGINAL_HEADER_PREFIX}{key}");
                }
            }
            if let Some(claimed) = raw.content_type.replace(OCTET_STREAM.to_owned()) {
                raw.metadata
                    .push((CLAIMED_CONTENT_TYPE.to_owned(), claimed));
            }
            Received::Invalid(raw, reason)
        }
    }
}

/// A plain message's `ce-` headers decoded as the HTTP binding decodes binary-mode values
/// (unquoted, percent-decoded, UTF-8), so an event reads the same whichever way it came.
fn binary_mode(plain: &Message) -> Result<Message, InvalidEvent> {
    let mut message = plain.clone();
    for (key, value) in &mut message.metadata {
        if cloudevent::is_attribute_key(key) {
            *value = http_binding::decode_value(value.as_bytes()).map_err(|reason| {
                InvalidEvent::attribute(
                    &key[cloudevent::PREFIX.len()..].to_ascii_lowercase(),
                    format!("the header `{key}` cannot be decoded: {reason}"),
                )
            })?;
        }
    }
    Ok(message)
}

/// A NATS message taken as it is: content type and metadata from its headers (sorted by name,
/// values of one name in order, so what a guest sees does not depend on a hash map's order).
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
    metadata.sort_by(|a: &(String, String), b| a.0.cmp(&b.0));
    Message {
        subject: msg.subject.to_string(),
        reply_to: msg.reply.map(|r| r.to_string()),
        content_type,
        metadata,
        data: msg.payload,
    }
}
