//! What a function's `wasi:messaging` imports run against, and how they join a linker.

use super::bindings::wasi::messaging::{producer, request_reply, types};
use super::bus::Bus;
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
}

impl MessagingCtx {
    /// Messaging over `bus`, with [`DEFAULT_REQUEST_TIMEOUT`] for requests without one.
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        MessagingCtx {
            bus,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
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
    }

    #[test]
    fn messaging_links_into_an_async_linker() {
        // Async host calls need no engine switch in wasmtime 48: `Config::async_support` is a no-op.
        let engine = wasmtime::Engine::new(&wasmtime::Config::new()).unwrap();
        let mut linker: Linker<Host> = Linker::new(&engine);
        add_to_linker(&mut linker, |h: &mut Host| MessagingView {
            ctx: &h.messaging,
            table: &mut h.table,
        })
        .unwrap();

        let dir = tempfile::tempdir().unwrap();
        let bus = Arc::new(EmbeddedBus::open(dir.path()).unwrap());
        let ctx = MessagingCtx::new(bus).with_request_timeout(Duration::from_secs(1));
        assert_eq!(
            format!("{ctx:?}"),
            "MessagingCtx { bus: \"embedded\", request_timeout: 1s }"
        );
    }
}
