//! The bus as guests see it: every message a guest puts on it counted in
//! `wasmgate_messages_total{direction="published"}`, like those sent to `POST /publish`, and
//! each refused at a subscriber's backlog quota in `wasmgate_quota_refusals_total`.

use super::Metrics;
use futures::future::BoxFuture;
use prometheus::IntCounter;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_capabilities::messaging::{Bus, Message, Result, Subscription};

/// `inner`, counting each accepted publish and each request sent.
pub struct CountedBus {
    inner: Arc<dyn Bus>,
    published: IntCounter,
    metrics: Arc<Metrics>,
}

impl CountedBus {
    /// Wraps `inner`, counting into `metrics`' `wasmgate_messages_total{direction="published"}`.
    pub fn new(inner: Arc<dyn Bus>, metrics: &Arc<Metrics>) -> Self {
        CountedBus {
            inner,
            published: metrics.messages.with_label_values(&["published"]),
            metrics: metrics.clone(),
        }
    }
}

impl Bus for CountedBus {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn publish(&self, msg: Message) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.inner
                .publish(msg)
                .await
                .inspect_err(|e| self.metrics.bus_refused(e))?;
            self.published.inc();
            Ok(())
        })
    }

    fn subscribe(
        &self,
        pattern: String,
        queue: Option<String>,
    ) -> BoxFuture<'_, Result<Subscription>> {
        self.inner.subscribe(pattern, queue)
    }

    fn request(&self, msg: Message, timeout: Duration) -> BoxFuture<'_, Result<Message>> {
        self.published.inc();
        self.inner.request(msg, timeout)
    }
}
