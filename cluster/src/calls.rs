//! Async calls on JetStream: the work queue stream `WG_CALLS` (subjects `wg.calls.<function>`)
//! that every node pulls from through one durable consumer (`wg-workers`), and the KV bucket
//! `wg_results` (`call.<id>`) holding each call's state and result until it expires.
//!
//! At least once: a call is acknowledged only after its result is stored; a node that dies while
//! running it never acknowledges it, and JetStream delivers it again to a live node after
//! `ack_wait` (a running call reports progress so a long one is not redelivered). Publishing
//! with the call id as `Nats-Msg-Id` deduplicates the gateway's own retried publishes within the
//! stream's two-minute window; a redelivered call whose result is already stored is acknowledged
//! without running again. Each function's queue holds at most `max_queued` calls: the stream
//! keeps that many messages per subject and refuses more (discard new per subject), which the
//! gateway answers with 429.

use crate::connection::Cluster;
use crate::error::{Error, Result, unavailable};
use async_nats::jetstream::consumer::{AckPolicy, pull};
use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::kv::CreateErrorKind;
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use futures::StreamExt;
use std::time::Duration;

/// The work queue stream.
pub const CALLS_STREAM: &str = "WG_CALLS";
/// The durable consumer every node pulls from.
pub const CALLS_CONSUMER: &str = "wg-workers";
/// The KV bucket of call states and results.
pub const RESULTS_BUCKET: &str = "wg_results";
/// Subject prefix of queued calls.
const SUBJECT_PREFIX: &str = "wg.calls.";

/// JetStream's deduplication window for `Nats-Msg-Id` (its default, two minutes).
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// Calls acknowledged but not yet acknowledged cluster-wide at most: beyond it JetStream hands
/// out no more until some finish.
const MAX_ACK_PENDING: i64 = 4096;

/// How async calls are kept (from `[async_calls]` and `[cluster]`).
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// Calls of one function accepted and not finished, at most.
    pub max_queued: u32,
    /// How long results stay readable.
    pub retention: Duration,
    /// How long a delivered call may go without an acknowledgement or progress report before
    /// JetStream delivers it again.
    pub ack_wait: Duration,
}

/// A call handed to this node to run.
pub struct Delivery {
    message: jetstream::Message,
    /// The call as the accepting node queued it.
    pub payload: Bytes,
    /// How many times it was delivered (1 the first time).
    pub delivered: i64,
}

impl Delivery {
    /// Tells JetStream the call is still running (resets its `ack_wait`).
    pub async fn progress(&self) {
        if let Err(e) = self.message.ack_with(AckKind::Progress).await {
            tracing::debug!(error = %e, "progress report not sent");
        }
    }

    /// Acknowledges the call: it is done, with its result stored.
    pub async fn ack(&self) -> Result<()> {
        self.message
            .double_ack()
            .await
            .map_err(|e| unavailable("acknowledging a call", e))
    }

    /// Hands the call back for another node to run now (this one is draining).
    pub async fn hand_back(&self) {
        if let Err(e) = self.message.ack_with(AckKind::Nak(None)).await {
            tracing::debug!(error = %e, "a call could not be handed back; it is delivered again after ack_wait");
        }
    }
}

impl Cluster {
    async fn calls_stream(&self) -> Result<&jetstream::stream::Stream> {
        self.calls
            .get_or_try_init(|| async {
                let options = self.call_options();
                let config = jetstream::stream::Config {
                    name: CALLS_STREAM.to_owned(),
                    description: Some("wasmgate async calls (wg.calls.<function>)".to_owned()),
                    subjects: vec![format!("{SUBJECT_PREFIX}>")],
                    retention: jetstream::stream::RetentionPolicy::WorkQueue,
                    max_messages_per_subject: i64::from(options.max_queued),
                    discard: jetstream::stream::DiscardPolicy::New,
                    discard_new_per_subject: true,
                    duplicate_window: DUPLICATE_WINDOW,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: self.options().replicas.max(1),
                    ..Default::default()
                };
                self.jetstream()
                    .get_or_create_stream(config)
                    .await
                    .map_err(|e| unavailable("creating the async call stream", e))
            })
            .await
    }

    async fn consumer(&self) -> Result<&jetstream::consumer::PullConsumer> {
        self.consumer
            .get_or_try_init(|| async {
                let stream = self.calls_stream().await?;
                stream
                    .get_or_create_consumer(
                        CALLS_CONSUMER,
                        pull::Config {
                            durable_name: Some(CALLS_CONSUMER.to_owned()),
                            ack_policy: AckPolicy::Explicit,
                            ack_wait: self.call_options().ack_wait,
                            max_deliver: -1,
                            max_ack_pending: MAX_ACK_PENDING,
                            ..Default::default()
                        },
                    )
                    .await
                    .map_err(|e| unavailable("creating the async call consumer", e))
            })
            .await
    }

    async fn results_bucket(&self) -> Result<&jetstream::kv::Store> {
        self.results
            .get_or_try_init(|| {
                self.key_value(jetstream::kv::Config {
                    bucket: RESULTS_BUCKET.to_owned(),
                    description: "wasmgate async call states and results (call.<id>)".to_owned(),
                    history: 1,
                    max_age: self.call_options().retention,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: self.options().replicas,
                    ..Default::default()
                })
            })
            .await
    }

    /// Queues call `id` of `function` durably (returns after JetStream's acknowledgement);
    /// [`Error::QueueFull`] when the function has `max_queued` calls waiting or running.
    pub async fn enqueue_call(&self, function: &str, id: &str, payload: Bytes) -> Result<()> {
        // The stream must exist before anything is published to its subjects.
        self.calls_stream().await?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id);
        let doing = format!("queueing call {id}");
        let ack = self
            .jetstream()
            .publish_with_headers(format!("{SUBJECT_PREFIX}{function}"), headers, payload)
            .await
            .map_err(|e| unavailable(&doing, e))?;
        match ack.await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => Err(Error::TooLarge {
                key: id.to_owned(),
                size: 0,
                limit: 0,
            }),
            Err(e) if e.to_string().contains("maximum messages per subject") => {
                Err(Error::QueueFull {
                    function: function.to_owned(),
                    limit: self.call_options().max_queued,
                })
            }
            Err(e) => Err(unavailable(&doing, e)),
        }
    }

    /// Writes call `id`'s state and result (replacing what was there).
    pub async fn put_call_state(&self, id: &str, value: Bytes) -> Result<()> {
        let bucket = self.results_bucket().await?;
        bucket
            .put(format!("call.{id}"), value)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&format!("storing the state of call {id}"), e))
    }

    /// Writes call `id`'s first state unless it has one (a fast worker may have stored its
    /// result already).
    pub async fn create_call_state(&self, id: &str, value: Bytes) -> Result<()> {
        let bucket = self.results_bucket().await?;
        match bucket.create(format!("call.{id}"), value).await {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(unavailable(&format!("storing the state of call {id}"), e)),
        }
    }

    /// Call `id`'s state and result, if it has one (and it has not expired).
    pub async fn call_state(&self, id: &str) -> Result<Option<Bytes>> {
        let bucket = self.results_bucket().await?;
        bucket
            .get(format!("call.{id}"))
            .await
            .map_err(|e| unavailable(&format!("reading the state of call {id}"), e))
    }

    /// Up to `max` calls for this node to run, waiting at most `wait` for the first.
    pub async fn next_calls(&self, max: usize, wait: Duration) -> Result<Vec<Delivery>> {
        let consumer = self.consumer().await?;
        let mut batch = consumer
            .batch()
            .max_messages(max.max(1))
            .expires(wait)
            .messages()
            .await
            .map_err(|e| unavailable("pulling async calls", e))?;
        let mut deliveries = Vec::new();
        while let Some(message) = batch.next().await {
            let message = message.map_err(|e| unavailable("pulling async calls", e))?;
            let delivered = message.info().map(|i| i.delivered).unwrap_or(1);
            deliveries.push(Delivery {
                payload: message.payload.clone(),
                message,
                delivered,
            });
        }
        Ok(deliveries)
    }
}
