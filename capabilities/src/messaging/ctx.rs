//! What a function's `wasi:messaging` imports run against, and how they join a linker.

use super::bindings::wasi::messaging::{producer, request_reply, types};
use super::bus::Bus;
use super::subject::Pattern;
use crate::instance_limit::{InstanceLimit, InstanceUse};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::{HasData, Linker, ResourceTable};

/// How long a guest's `request` waits when it sets no timeout. The WIT says "wait for the
/// first reply"; a bound keeps a lost reply from pinning an instance until the function's own
/// time limit, and 30 s is beyond any reply a serverless handler should wait for.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Per-function messaging state, built once at deploy time and shared by its instances.
#[derive(Clone)]
pub struct MessagingCtx {
    bus: Arc<dyn Bus>,
    request_timeout: Duration,
    /// Messages one instance may put on the bus; clones share its count of refused instances.
    messages: InstanceLimit,
    /// The only subjects `send` and `request` may use; `None` leaves every subject but the host's
    /// own open.
    publish: Option<Arc<[Pattern]>>,
}

impl MessagingCtx {
    /// Messaging over `bus`, with [`DEFAULT_REQUEST_TIMEOUT`] for requests without one and no
    /// limit on messages per call until
    /// [`with_max_messages_per_call`](Self::with_max_messages_per_call) sets one.
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        MessagingCtx {
            bus,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            messages: InstanceLimit::new(u32::MAX),
            publish: None,
        }
    }

    /// Lets `send` and `request` reach only subjects matching one of `patterns` (the function's
    /// signed `[messaging] publish` list; empty refuses every subject). Others fail with
    /// `permission-denied`; the host's own subjects stay closed whatever is listed.
    pub fn with_publish_grants(mut self, patterns: Vec<Pattern>) -> Self {
        self.publish = Some(patterns.into());
        self
    }

    /// Whether the guest may put a message on `subject`: not one of the host's, and granted.
    pub(crate) fn may_publish(&self, subject: &str) -> Result<(), String> {
        if super::subject::is_reserved(subject) {
            return Err(format!(
                "subject `{subject}` is reserved for the host (wasmgate.>, _INBOX.>): publish on a subject of your own, and answer a request with reply"
            ));
        }
        match &self.publish {
            Some(grants) if !grants.iter().any(|p| p.matches(subject)) => Err(format!(
                "subject `{subject}` is not in the function's `[messaging] publish` list: add it to the manifest and sign it with `wasmgate sign --manifest`"
            )),
            _ => Ok(()),
        }
    }

    /// Lets each instance (one call) put at most `max` messages on the bus: `send`, `reply` and
    /// `request` each count one; past it they fail with `permission-denied`. Starts a fresh
    /// count of [`limit_hits`](Self::limit_hits), not shared with the context this came from.
    pub fn with_max_messages_per_call(mut self, max: u32) -> Self {
        self.messages = InstanceLimit::new(max);
        self
    }

    /// How many instances were refused a message at the per-call limit.
    pub fn limit_hits(&self) -> u64 {
        self.messages.hits()
    }

    /// Sets how long a request without its own timeout waits.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    pub(crate) fn bus(&self) -> &dyn Bus {
        &*self.bus
    }

    pub(crate) fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
}

impl std::fmt::Debug for MessagingCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MessagingCtx")
            .field("bus", &self.bus.name())
            .field("request_timeout", &self.request_timeout)
            .field("max_messages_per_call", &self.messages.max)
            .finish()
    }
}

/// The borrowed view the generated host traits are implemented on: the function's
/// [`MessagingCtx`] plus the store's resource table, which holds guest messages and clients.
pub struct MessagingView<'a> {
    /// The function's messaging state.
    pub ctx: &'a MessagingCtx,
    /// The store's resource table.
    pub table: &'a mut ResourceTable,
    /// The store's count of messages sent.
    pub usage: &'a mut MessagingUsage,
}

/// One instance's messages put on the bus, counted against its function's limit.
#[derive(Debug, Default)]
pub struct MessagingUsage {
    /// Sent during the current call; [`MessagingUsage::new_call`] starts it again.
    sent: InstanceUse,
    /// Bytes of data and metadata in the messages the guest has made and not dropped; these
    /// live in the instance's resource table, so the count lasts as long as the instance.
    held: u64,
}

impl MessagingUsage {
    /// Starts the count of messages sent afresh for the next call of a reused instance:
    /// `max_messages_per_call` is per call, and a refusal is counted once per call. The bytes
    /// held by messages the guest kept are not reset: the messages are still there.
    pub fn new_call(&mut self) {
        self.sent = InstanceUse::default();
    }
}

/// Most bytes of message data and metadata one instance may hold in the host at once. Messages
/// live in host memory, outside the guest's own memory limit, so without this a guest could
/// copy its memory into new messages in a loop until the node runs out.
pub const MAX_HELD_MESSAGE_BYTES: u64 = 64 << 20;

impl MessagingView<'_> {
    /// Accounts `bytes` more held by the guest's messages; traps past
    /// [`MAX_HELD_MESSAGE_BYTES`], since the constructors that grow them cannot return an error.
    pub(crate) fn hold(&mut self, bytes: usize) -> wasmtime::Result<()> {
        let held = self.usage.held.saturating_add(bytes as u64);
        if held > MAX_HELD_MESSAGE_BYTES {
            wasmtime::bail!(
                "the guest's messages would hold {held} bytes in the host, over the limit of {MAX_HELD_MESSAGE_BYTES}"
            );
        }
        self.usage.held = held;
        Ok(())
    }

    /// Gives back `bytes` held by a message that was dropped or changed.
    pub(crate) fn release(&mut self, bytes: usize) {
        self.usage.held = self.usage.held.saturating_sub(bytes as u64);
    }

    /// Counts one more message, or refuses it past the function's limit (counting the
    /// instance's first refusal).
    pub(crate) fn admit(&mut self) -> Result<(), types::Error> {
        let max = self.ctx.messages.max;
        self.usage.sent.take(&self.ctx.messages).map_err(|refused| {
            if refused.first {
                tracing::warn!(
                    max,
                    "guest reached its per-call message limit; further sends fail"
                );
            }
            types::Error::PermissionDenied(format!(
                "message limit reached: one call may send at most {max} messages (limits.max_messages_per_call)"
            ))
        })
    }
}

/// Links `wasi:messaging` `types`, `producer` and `request-reply` into `linker`; `f` finds
/// the [`MessagingView`] in the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    f: fn(&mut T) -> MessagingView<'_>,
) -> wasmtime::Result<()> {
    types::add_to_linker::<_, HasMessaging>(linker, f)?;
    producer::add_to_linker::<_, HasMessaging>(linker, f)?;
    request_reply::add_to_linker::<_, HasMessaging>(linker, f)?;
    Ok(())
}

/// Names [`MessagingView`] as the data the generated `add_to_linker` functions hand out.
struct HasMessaging;

impl HasData for HasMessaging {
    type Data<'a> = MessagingView<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::EmbeddedBus;

    struct Host {
        messaging: MessagingCtx,
        table: ResourceTable,
        usage: MessagingUsage,
    }

    #[test]
    fn messaging_links_into_an_async_linker() {
        // Async host calls need no engine switch in wasmtime 48: `Config::async_support` is a no-op.
        let engine = wasmtime::Engine::new(&wasmtime::Config::new()).unwrap();
        let mut linker: Linker<Host> = Linker::new(&engine);
        add_to_linker(&mut linker, |h: &mut Host| MessagingView {
            ctx: &h.messaging,
            table: &mut h.table,
            usage: &mut h.usage,
        })
        .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(EmbeddedBus::open(dir.path()).unwrap());
        let ctx = MessagingCtx::new(bus).with_request_timeout(Duration::from_secs(1));
        assert_eq!(
            format!("{ctx:?}"),
            "MessagingCtx { bus: \"embedded\", request_timeout: 1s, max_messages_per_call: 4294967295 }"
        );
    }

    #[test]
    fn messages_past_the_per_call_limit_are_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(EmbeddedBus::open(dir.path()).unwrap());
        let ctx = MessagingCtx::new(bus).with_max_messages_per_call(2);
        let mut table = ResourceTable::new();
        let mut usage = MessagingUsage::default();
        let mut view = MessagingView {
            ctx: &ctx,
            table: &mut table,
            usage: &mut usage,
        };
        assert!(view.admit().is_ok() && view.admit().is_ok());
        for _ in 0..3 {
            match view.admit() {
                Err(types::Error::PermissionDenied(text)) => {
                    assert!(text.contains("at most 2 messages"), "{text}");
                    assert!(text.contains("limits.max_messages_per_call"), "{text}");
                }
                other => panic!("expected permission-denied, got {other:?}"),
            }
        }
        assert_eq!(ctx.limit_hits(), 1, "counted once per instance");
    }

    #[test]
    fn messages_a_guest_makes_are_held_to_a_byte_budget_that_drops_give_back() {
        use crate::messaging::bindings::wasi::messaging::types::HostMessage;
        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(EmbeddedBus::open(dir.path()).unwrap());
        let ctx = MessagingCtx::new(bus);
        let mut table = ResourceTable::new();
        let mut usage = MessagingUsage::default();
        let mut view = MessagingView {
            ctx: &ctx,
            table: &mut table,
            usage: &mut usage,
        };
        let quarter = usize::try_from(MAX_HELD_MESSAGE_BYTES / 4).unwrap();
        let held: Vec<_> = (0..4)
            .map(|_| HostMessage::new(&mut view, vec![0; quarter]).unwrap())
            .collect();
        let over = HostMessage::new(&mut view, vec![0; 1]).unwrap_err();
        assert!(over.to_string().contains("over the limit"), "{over}");
        let over = HostMessage::add_metadata(
            &mut view,
            wasmtime::component::Resource::new_borrow(held[0].rep()),
            "k".into(),
            "v".into(),
        );
        assert!(over.is_err(), "metadata counts too");
        for message in held {
            HostMessage::drop(&mut view, message).unwrap();
        }
        // Dropped messages give their bytes back: the whole budget is free again.
        let whole = HostMessage::new(&mut view, vec![0; quarter * 4]).unwrap();
        HostMessage::set_data(&mut view, whole, vec![0; quarter]).unwrap();
        HostMessage::new(&mut view, vec![0; quarter * 3]).unwrap();
    }
}
