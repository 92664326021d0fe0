//! Event triggers: each `[[triggers]]` subject of a deployed function is a bus subscription whose
//! messages go to the guest's `wasi:messaging/incoming-handler`, retried with doubling waits and,
//! when every attempt failed, published to `wasmgate.dead-letter.<function>` with the error.
//!
//! A message is acknowledged only after it was handled or dead-lettered, so on the embedded bus
//! a crash in between redelivers it (at least once).

use crate::admission::Source;
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::state::Gateway;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::AbortHandle;
use tracing::Instrument;
use wasmgate_capabilities::messaging::{Delivery, Message};
use wasmgate_config::EventSettings;

/// Subject prefix of dead letters; the function's name follows.
pub const DEAD_LETTER_PREFIX: &str = "wasmgate.dead-letter.";

/// Metadata keys a dead letter carries.
pub const ERROR_KEY: &str = "wasmgate-error";
/// The subject the message was first published on.
pub const SUBJECT_KEY: &str = "wasmgate-subject";
/// How many deliveries were tried.
pub const ATTEMPTS_KEY: &str = "wasmgate-attempts";

/// Longest wait between two retries.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(60);

/// Waits between retries of events and async calls: `[events] backoff`, doubling each time, at
/// most [`MAX_RETRY_WAIT`].
pub fn retry_waits(settings: &EventSettings) -> impl Iterator<Item = Duration> {
    std::iter::successors(Some(settings.backoff.get()), |w| {
        Some(w.saturating_mul(2).min(MAX_RETRY_WAIT))
    })
}

/// Most messages of one subscription handled at once (the function's own limit applies too).
const MAX_IN_FLIGHT: usize = 64;

/// The subscription tasks of one deployed version; stopped when it is retired or dropped.
#[derive(Debug, Default)]
pub struct Subscriptions(Mutex<Vec<AbortHandle>>);

impl Subscriptions {
    /// Stops every subscription.
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.0.lock() {
            for task in tasks.drain(..) {
                task.abort();
            }
        }
    }

    /// Adds a task stopped with the rest (a subscription or a schedule).
    pub(crate) fn add(&self, task: AbortHandle) {
        if let Ok(mut tasks) = self.0.lock() {
            tasks.push(task);
        }
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Subscribes `deployed` to each of its trigger subjects. In cluster mode a trigger without a
/// queue group joins `wasmgate.<function>`, so each message runs once in the cluster, not once
/// per node.
pub fn start(gw: &Arc<Gateway>, deployed: &Arc<Deployed>) {
    for trigger in &deployed.record.manifest.triggers {
        let pattern = trigger.subject.as_str().to_owned();
        let queue = trigger.queue.clone().or_else(|| {
            gw.cluster
                .as_ref()
                .map(|_| format!("wasmgate.{}", deployed.record.name))
        });
        let task = tokio::spawn(subscribe(gw.clone(), deployed.clone(), pattern, queue));
        deployed.subscriptions.add(task.abort_handle());
    }
}

async fn subscribe(
    gw: Arc<Gateway>,
    deployed: Arc<Deployed>,
    pattern: String,
    queue: Option<String>,
) {
    let name = deployed.record.name.clone();
    let mut subscription = match gw.bus.subscribe(pattern.clone(), queue).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(function = %name, subject = %pattern, error = %e, "cannot subscribe");
            return;
        }
    };
    tracing::info!(function = %name, subject = %pattern, "subscribed");
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    while let Some(delivery) = subscription.next().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (gw, deployed) = (gw.clone(), deployed.clone());
        tokio::spawn(async move {
            handle(&gw, &deployed, delivery).await;
            drop(slot);
        });
    }
}

/// Delivers one message with retries, dead-letters it if every attempt failed, then acks it.
/// A message that claimed to be a CloudEvent and is not a valid one never reaches the guest:
/// it is dead-lettered at once, with the reason, after no attempt.
async fn handle(gw: &Gateway, deployed: &Deployed, delivery: Delivery) {
    let message = delivery.message().clone();
    let name = &deployed.record.name;
    if let Some(invalid) = delivery.invalid_event() {
        tracing::warn!(function = %name, subject = %message.subject, error = %invalid, "invalid CloudEvent; dead-lettered");
        gw.metrics.messages.with_label_values(&["invalid"]).inc();
        let reason = format!("invalid CloudEvent: {invalid}");
        dead_letter(gw, name, delivery, &message, reason, 0).await;
        return;
    }
    let attempts = gw.settings.events.max_attempts.max(1);
    let mut waits = retry_waits(&gw.settings.events);
    let mut last_error = String::new();
    for attempt in 1..=attempts {
        match attempt_once(gw, deployed, &message).await {
            Ok(()) => {
                gw.metrics.messages.with_label_values(&["delivered"]).inc();
                ack(delivery, name).await;
                return;
            }
            Err(failed) => {
                tracing::warn!(function = %name, subject = %message.subject, attempt, error = %failed.detail, "event delivery failed");
                last_error = failed.told;
            }
        }
        if attempt < attempts {
            gw.metrics.messages.with_label_values(&["retried"]).inc();
            tokio::time::sleep(waits.next().unwrap_or(MAX_RETRY_WAIT)).await;
        }
    }
    dead_letter(gw, name, delivery, &message, last_error, attempts).await;
}

/// Publishes `message` to `wasmgate.dead-letter.<function>` with why (`wasmgate-error`), where
/// it came from (`wasmgate-subject`) and how many deliveries were tried (`wasmgate-attempts`),
/// in that order, then acks it. A dead letter that fails again is dropped, not dead-lettered:
/// that would loop.
async fn dead_letter(
    gw: &Gateway,
    name: &str,
    delivery: Delivery,
    message: &Message,
    reason: String,
    attempts: u32,
) {
    if message.subject.starts_with(DEAD_LETTER_PREFIX) {
        tracing::error!(function = %name, subject = %message.subject, error = %reason, "dead letter refused; dropped");
        gw.metrics.messages.with_label_values(&["dropped"]).inc();
        ack(delivery, name).await;
        return;
    }
    let mut dead = message.clone();
    dead.subject = format!("{DEAD_LETTER_PREFIX}{name}");
    dead.reply_to = None;
    // In name order, as NATS headers come back, so a dead letter reads the same on every bus.
    dead.metadata
        .push((ATTEMPTS_KEY.into(), attempts.to_string()));
    dead.metadata.push((ERROR_KEY.into(), reason));
    dead.metadata
        .push((SUBJECT_KEY.into(), message.subject.clone()));
    match publish_dead_letter(gw, dead).await {
        Ok(()) => {
            gw.metrics
                .messages
                .with_label_values(&["dead_lettered"])
                .inc();
            ack(delivery, name).await;
        }
        // Not acked: the embedded bus hands it out again after a restart.
        Err(e) => tracing::error!(function = %name, error = %e, "cannot publish a dead letter"),
    }
}

/// Publishes a dead letter, waiting (with the retry waits) while the dead-letter subscriber's
/// backlog is full rather than dropping it: the message it stands for stays unacknowledged, and
/// its place in its own backlog taken, meanwhile.
async fn publish_dead_letter(
    gw: &Gateway,
    dead: Message,
) -> wasmgate_capabilities::messaging::Result<()> {
    let mut waits = retry_waits(&gw.settings.events);
    loop {
        match gw.bus.publish(dead.clone()).await {
            Err(e @ wasmgate_capabilities::messaging::Error::BacklogFull { .. }) => {
                gw.metrics.bus_refused(&e);
                tracing::warn!(subject = %dead.subject, error = %e, "dead-letter backlog full; waiting");
                tokio::time::sleep(waits.next().unwrap_or(MAX_RETRY_WAIT)).await;
            }
            other => return other,
        }
    }
}

/// Why a delivery failed: in full for the log, and as the dead letter (which any subscriber of
/// `wasmgate.dead-letter.>` reads) tells it, without the host's detail.
pub(crate) struct Failed {
    /// The whole reason, for the log and for host-run deliveries (schedules, health checks).
    pub(crate) detail: String,
    told: String,
}

impl From<ApiError> for Failed {
    fn from(e: ApiError) -> Self {
        Failed {
            detail: e.to_string(),
            told: e.public_message(None),
        }
    }
}

/// Delivers `message` once to `deployed`'s `wasi:messaging/incoming-handler`, after the execute
/// policy for its subject: a trigger's attempt, a schedule's fire, a health check's message.
/// With tracing on, the attempt is a `message` span continuing the message's trace.
pub(crate) async fn attempt_once(
    gw: &Gateway,
    deployed: &Deployed,
    message: &Message,
) -> Result<(), Failed> {
    match crate::telemetry::message_span(&deployed.record.name, message) {
        Some(span) => deliver(gw, deployed, message).instrument(span).await,
        None => deliver(gw, deployed, message).await,
    }
}

async fn deliver(gw: &Gateway, deployed: &Deployed, message: &Message) -> Result<(), Failed> {
    let source = Source::Event {
        subject: &message.subject,
    };
    gw.admission.may_execute(deployed, source).await?;
    match deployed.function.handle_message(message.clone()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(refused)) => {
            let refused = format!("guest refused the message: {refused}");
            Err(Failed {
                detail: refused.clone(),
                told: refused,
            })
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

async fn ack(delivery: Delivery, function: &str) {
    if let Err(e) = delivery.ack().await {
        tracing::warn!(%function, error = %e, "could not acknowledge a message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_double_up_to_the_cap() {
        let settings = EventSettings {
            max_attempts: 5,
            backoff: wasmgate_config::HumanDuration::from_duration(Duration::from_secs(20)),
        };
        let waits: Vec<u64> = retry_waits(&settings)
            .take(4)
            .map(|w| w.as_secs())
            .collect();
        assert_eq!(waits, [20, 40, 60, 60]);
    }
}
