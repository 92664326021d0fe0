//! The `wasi:messaging` imports, implemented on [`MessagingView`] over a [`Bus`](super::Bus).

use super::bindings::wasi::messaging::{producer, request_reply, types};
use super::bus::Message;
use super::ctx::MessagingView;
use super::error::Error;
use crate::Blame;
use crate::guest_error::guest_message;
use std::time::Duration;
use tracing::Instrument;
use wasmtime::component::Resource;

/// A guest's `client`: every name reaches the function's one bus, so it only remembers the
/// name for logs.
#[derive(Debug)]
pub struct Client {
    name: String,
}

/// A guest's `message`: a [`Message`] whose subject is empty until it is sent or received.
#[derive(Debug)]
pub struct GuestMessage(Message);

/// A guest's `request-options`.
#[derive(Debug, Default)]
pub struct RequestOptions {
    timeout: Option<Duration>,
    expected_replies: Option<u32>,
}

/// The WIT error for a bus failure. The text goes through [`guest_message`]: the guest's own
/// mistakes (a malformed subject, no responders) keep their message, the bus's failures reach it
/// as their kind only and their detail (server address, storage message) goes to the log.
/// `permission-denied` for a subject the host keeps for itself or the function was not granted.
fn refused(ctx: &super::MessagingCtx, topic: &str) -> Option<types::Error> {
    ctx.may_publish(topic)
        .err()
        .map(types::Error::PermissionDenied)
}

fn to_wit(err: Error) -> types::Error {
    let kind = match err {
        Error::Timeout { .. } => return types::Error::Timeout,
        Error::InvalidSubject { .. } => "invalid subject",
        Error::InvalidPattern { .. } => "invalid subject pattern",
        Error::InvalidQueue { .. } => "invalid queue group",
        Error::InvalidMetadata { .. } => "invalid metadata",
        Error::InvalidEvent(_) => "invalid CloudEvent",
        Error::NoResponders { .. } => "no responders",
        Error::BacklogFull { .. } => "message backlog full",
        Error::TooLargeForBacklog { .. } | Error::TooLargeForServer { .. } => "message too large",
        Error::Connect { .. } | Error::Nats { .. } | Error::Closed => {
            tracing::warn!(code = err.code(), error = %err, "messaging backend unavailable");
            let kind = "message service unavailable";
            return types::Error::Connection(guest_message(kind, Blame::Host, &err));
        }
        _ => {
            tracing::error!(code = err.code(), error = %err, "messaging host failure");
            "internal messaging error"
        }
    };
    types::Error::Other(guest_message(kind, blame(&err), &err))
}

/// Whose doing a bus failure is: the guest's for what it sent, the host's for the rest.
fn blame(err: &Error) -> Blame {
    match err {
        Error::InvalidSubject { .. }
        | Error::InvalidPattern { .. }
        | Error::InvalidQueue { .. }
        | Error::InvalidMetadata { .. }
        | Error::InvalidEvent(_)
        | Error::NoResponders { .. }
        | Error::BacklogFull { .. }
        | Error::TooLargeForBacklog { .. }
        | Error::TooLargeForServer { .. }
        | Error::Timeout { .. } => Blame::Guest,
        _ => Blame::Host,
    }
}

impl types::Host for MessagingView<'_> {}

impl types::HostClient for MessagingView<'_> {
    fn connect(
        &mut self,
        name: String,
    ) -> wasmtime::Result<Result<Resource<Client>, types::Error>> {
        Ok(Ok(self.table.push(Client { name })?))
    }

    fn disconnect(
        &mut self,
        client: Resource<Client>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        let client = self.table.get(&client)?;
        tracing::debug!(client = %client.name, "messaging client disconnected");
        Ok(Ok(()))
    }

    fn drop(&mut self, client: Resource<Client>) -> wasmtime::Result<()> {
        self.table.delete(client)?;
        Ok(())
    }
}

impl types::HostMessage for MessagingView<'_> {
    fn new(&mut self, data: Vec<u8>) -> wasmtime::Result<Resource<GuestMessage>> {
        self.hold(data.len())?;
        Ok(self.table.push(GuestMessage(Message::new("", data)))?)
    }

    fn topic(&mut self, msg: Resource<GuestMessage>) -> wasmtime::Result<Option<String>> {
        let subject = &self.table.get(&msg)?.0.subject;
        Ok((!subject.is_empty()).then(|| subject.clone()))
    }

    fn content_type(&mut self, msg: Resource<GuestMessage>) -> wasmtime::Result<Option<String>> {
        Ok(self.table.get(&msg)?.0.content_type.clone())
    }

    fn set_content_type(
        &mut self,
        msg: Resource<GuestMessage>,
        content_type: String,
    ) -> wasmtime::Result<()> {
        self.table.get_mut(&msg)?.0.content_type = Some(content_type);
        Ok(())
    }

    fn data(&mut self, msg: Resource<GuestMessage>) -> wasmtime::Result<Vec<u8>> {
        Ok(self.table.get(&msg)?.0.data.to_vec())
    }

    fn set_data(&mut self, msg: Resource<GuestMessage>, data: Vec<u8>) -> wasmtime::Result<()> {
        let old = self.table.get(&msg)?.0.data.len();
        self.release(old);
        self.hold(data.len())?;
        self.table.get_mut(&msg)?.0.data = data.into();
        Ok(())
    }

    fn metadata(
        &mut self,
        msg: Resource<GuestMessage>,
    ) -> wasmtime::Result<Option<types::Metadata>> {
        let metadata = &self.table.get(&msg)?.0.metadata;
        Ok((!metadata.is_empty()).then(|| metadata.clone()))
    }

    fn add_metadata(
        &mut self,
        msg: Resource<GuestMessage>,
        key: String,
        value: String,
    ) -> wasmtime::Result<()> {
        self.hold(key.len() + value.len())?;
        let metadata = &mut self.table.get_mut(&msg)?.0.metadata;
        metadata.retain(|(k, _)| *k != key);
        metadata.push((key, value));
        Ok(())
    }

    fn set_metadata(
        &mut self,
        msg: Resource<GuestMessage>,
        meta: types::Metadata,
    ) -> wasmtime::Result<()> {
        let old: usize = self
            .table
            .get(&msg)?
            .0
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.release(old);
        self.hold(meta.iter().map(|(k, v)| k.len() + v.len()).sum())?;
        self.table.get_mut(&msg)?.0.metadata = meta;
        Ok(())
    }

    fn remove_metadata(
        &mut self,
        msg: Resource<GuestMessage>,
        key: String,
    ) -> wasmtime::Result<()> {
        self.table
            .get_mut(&msg)?
            .0
            .metadata
            .retain(|(k, _)| *k != key);
        Ok(())
    }

    fn drop(&mut self, msg: Resource<GuestMessage>) -> wasmtime::Result<()> {
        let GuestMessage(message) = self.table.delete(msg)?;
        let metadata: usize = message
            .metadata
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum();
        self.release(message.data.len() + metadata);
        Ok(())
    }
}

impl producer::Host for MessagingView<'_> {
    async fn send(
        &mut self,
        client: Resource<Client>,
        topic: String,
        message: Resource<GuestMessage>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        self.table.get(&client)?;
        let GuestMessage(mut msg) = self.table.delete(message)?;
        if let Some(refused) = refused(self.ctx, &topic) {
            return Ok(Err(refused));
        }
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        msg.subject = topic;
        Ok(publish(self.ctx, msg).await)
    }
}

/// Publishes a guest's message: its CloudEvents attributes made canonical (or the message
/// refused when they are not a valid event, with the reason), then onto the bus.
/// With tracing on, the publish runs in a `messaging.publish` span whose context the message
/// carries ([`super::trace_context`]).
async fn publish(ctx: &super::MessagingCtx, msg: Message) -> Result<(), types::Error> {
    let mut msg = super::cloudevent::canonical(msg).map_err(|e| to_wit(e.into()))?;
    match super::trace_context::publishing(&mut msg) {
        Some(span) => ctx.bus().publish(msg).instrument(span).await,
        None => ctx.bus().publish(msg).await,
    }
    .map_err(to_wit)
}

impl request_reply::Host for MessagingView<'_> {
    async fn request(
        &mut self,
        client: Resource<Client>,
        topic: String,
        message: Resource<GuestMessage>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<Result<Vec<Resource<GuestMessage>>, types::Error>> {
        self.table.get(&client)?;
        if let Some(refused) = refused(self.ctx, &topic) {
            return Ok(Err(refused));
        }
        let mut msg = self.table.get(&message)?.0.clone();
        msg.subject = topic;
        let mut msg = match super::cloudevent::canonical(msg) {
            Ok(msg) => msg,
            Err(e) => return Ok(Err(to_wit(e.into()))),
        };
        let span = super::trace_context::publishing(&mut msg);
        let timeout = match options {
            Some(options) => self.table.delete(options)?.timeout,
            None => None,
        }
        .unwrap_or(self.ctx.request_timeout());
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        // The bus returns the first reply; more than one expected reply still returns one.
        let asked = self.ctx.bus().request(msg, timeout);
        let answered = match span {
            Some(span) => asked.instrument(span).await,
            None => asked.await,
        };
        match answered {
            Ok(reply) => Ok(Ok(vec![self.table.push(GuestMessage(reply))?])),
            Err(err) => Ok(Err(to_wit(err))),
        }
    }

    async fn reply(
        &mut self,
        reply_to: Resource<GuestMessage>,
        message: Resource<GuestMessage>,
    ) -> wasmtime::Result<Result<(), types::Error>> {
        let Some(subject) = self.table.get(&reply_to)?.0.reply_to.clone() else {
            return Ok(Err(types::Error::Other(
                "the message has no reply subject to answer on".into(),
            )));
        };
        let GuestMessage(mut msg) = self.table.delete(message)?;
        if let Err(refused) = self.admit() {
            return Ok(Err(refused));
        }
        msg.subject = subject;
        Ok(publish(self.ctx, msg).await)
    }
}

impl request_reply::HostRequestOptions for MessagingView<'_> {
    fn new(&mut self) -> wasmtime::Result<Resource<RequestOptions>> {
        Ok(self.table.push(RequestOptions::default())?)
    }

    fn set_timeout_ms(
        &mut self,
        options: Resource<RequestOptions>,
        timeout_ms: u32,
    ) -> wasmtime::Result<()> {
        self.table.get_mut(&options)?.timeout = Some(Duration::from_millis(timeout_ms.into()));
        Ok(())
    }

    fn set_expected_replies(
        &mut self,
        options: Resource<RequestOptions>,
        expected_replies: u32,
    ) -> wasmtime::Result<()> {
        self.table.get_mut(&options)?.expected_replies = Some(expected_replies);
        Ok(())
    }

    fn drop(&mut self, options: Resource<RequestOptions>) -> wasmtime::Result<()> {
        self.table.delete(options)?;
        Ok(())
    }
}

impl GuestMessage {
    /// Wraps a message received from the bus, to hand to a guest's `incoming-handler`.
    pub fn received(message: Message) -> Self {
        GuestMessage(message)
    }
}
