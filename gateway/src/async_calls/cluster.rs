//! Async calls in cluster mode: queued on JetStream (`wasmgate-cluster`'s `calls`), run by
//! whichever node pulls them, their states and results readable on every node.
//!
//! A queued call travels as `[u16 id length][id][u32 metadata length][metadata][body]`, the
//! metadata in the same versioned encoding the node-local store uses; a state as
//! `[u32 metadata length][metadata][result body]`. The accepting node answers 202 after
//! JetStream's acknowledgement of the publish; a node runs a call, stores its result, then
//! acknowledges it, so a node killed at any point loses no call: JetStream delivers it again to
//! another node after `cluster.ack_wait` (at least once; a call whose result is stored already
//! is acknowledged without running again).

use super::record::{CallMeta, CallRecord, CallState};
use super::worker::execute;
use crate::cluster::ClusterNode;
use crate::error::ApiError;
use crate::state::Gateway;
use bytes::{BufMut, Bytes, BytesMut};
use std::sync::Arc;
use std::time::Duration;
use wasmgate_cluster::{Delivery, Error as ClusterError};

/// Calls one node runs at once from the cluster's queue.
pub const MAX_RUNNING: usize = 64;

/// How long one pull waits for calls before asking again.
const PULL_WAIT: Duration = Duration::from_secs(1);

/// Room a stored state keeps below NATS's `max_payload` for the metadata and headers.
const STATE_OVERHEAD: usize = 16 * 1024;

/// The cluster's error as the API's.
fn api_error(e: ClusterError) -> ApiError {
    match e {
        ClusterError::QueueFull { function, limit } => ApiError::AsyncQueueFull { function, limit },
        ClusterError::TooLarge { .. } => ApiError::PayloadTooLarge {
            limit: 0,
            setting: "the cluster NATS server's max_payload",
        },
        other => ApiError::ClusterUnavailable {
            reason: other.to_string(),
        },
    }
}

/// A queued call's bytes.
fn encode_call(id: &str, meta: &CallMeta, body: &[u8]) -> Result<Bytes, ApiError> {
    let meta = meta.encode()?;
    let id_len = u16::try_from(id.len()).map_err(|_| ApiError::Internal {
        reason: "call id too long".into(),
    })?;
    let meta_len = u32::try_from(meta.len()).map_err(|_| ApiError::Internal {
        reason: "call metadata too long".into(),
    })?;
    let mut out = BytesMut::with_capacity(6 + id.len() + meta.len() + body.len());
    out.put_u16(id_len);
    out.put_slice(id.as_bytes());
    out.put_u32(meta_len);
    out.put_slice(&meta);
    out.put_slice(body);
    Ok(out.freeze())
}

/// A queued call: its id, metadata and body.
fn decode_call(bytes: &Bytes) -> Result<(String, CallMeta, Bytes), ApiError> {
    let malformed = || ApiError::Storage {
        reason: "a queued async call is malformed".into(),
    };
    let id_len = usize::from(u16::from_be_bytes(
        bytes
            .get(..2)
            .ok_or_else(malformed)?
            .try_into()
            .map_err(|_| malformed())?,
    ));
    let id = std::str::from_utf8(bytes.get(2..2 + id_len).ok_or_else(malformed)?)
        .map_err(|_| malformed())?
        .to_owned();
    let (meta, body) = decode_state(&bytes.slice(2 + id_len..))?;
    Ok((id, meta, body))
}

/// A state's bytes: metadata, then the result body (empty while queued).
fn encode_state(meta: &CallMeta, body: &[u8]) -> Result<Bytes, ApiError> {
    let meta = meta.encode()?;
    let meta_len = u32::try_from(meta.len()).map_err(|_| ApiError::Internal {
        reason: "call metadata too long".into(),
    })?;
    let mut out = BytesMut::with_capacity(4 + meta.len() + body.len());
    out.put_u32(meta_len);
    out.put_slice(&meta);
    out.put_slice(body);
    Ok(out.freeze())
}

/// A state: metadata and result body.
fn decode_state(bytes: &Bytes) -> Result<(CallMeta, Bytes), ApiError> {
    let malformed = || ApiError::Storage {
        reason: "a stored async call state is malformed".into(),
    };
    let len = u32::from_be_bytes(
        bytes
            .get(..4)
            .ok_or_else(malformed)?
            .try_into()
            .map_err(|_| malformed())?,
    ) as usize;
    let meta = CallMeta::decode(bytes.get(4..4 + len).ok_or_else(malformed)?)?;
    Ok((meta, bytes.slice(4 + len..)))
}

/// Queues call `id` on the cluster (durable when this returns) and records it as queued.
pub async fn accept(
    node: &ClusterNode,
    id: &str,
    meta: &CallMeta,
    body: &[u8],
) -> Result<(), ApiError> {
    node.cluster
        .enqueue_call(&meta.function, id, encode_call(id, meta, body)?)
        .await
        .map_err(api_error)?;
    // Queued for sure now; the state only lets `GET /calls/{id}` answer before it runs.
    if let Err(e) = node
        .cluster
        .create_call_state(id, encode_state(meta, &[])?)
        .await
    {
        tracing::warn!(call = %id, error = %e, "queued, but its state could not be recorded: GET /calls answers 404 until it has run");
    }
    Ok(())
}

/// Call `id` as stored in the cluster, if it exists (and has not expired).
pub async fn read(node: &ClusterNode, id: &str) -> Result<Option<CallRecord>, ApiError> {
    let Some(bytes) = node.cluster.call_state(id).await.map_err(api_error)? else {
        return Ok(None);
    };
    let (meta, body) = decode_state(&bytes)?;
    let result_body = meta.result.is_some().then_some(body);
    Ok(Some(CallRecord {
        id: id.to_owned(),
        meta,
        result_body,
    }))
}

/// Pulls calls from the cluster's queue and runs up to [`MAX_RUNNING`] at once, until the node
/// drains.
pub async fn pull(gw: Arc<Gateway>, node: Arc<ClusterNode>) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_RUNNING));
    while !node.is_draining() {
        let free = slots.available_permits();
        if free == 0 {
            // Wait for a place, then pull again.
            if let Ok(permit) = slots.acquire().await {
                drop(permit);
            }
            continue;
        }
        let deliveries = match node.cluster.next_calls(free, PULL_WAIT).await {
            Ok(deliveries) => deliveries,
            Err(e) => {
                tracing::debug!(error = %e, "cannot pull async calls; retrying");
                tokio::time::sleep(PULL_WAIT).await;
                continue;
            }
        };
        for delivery in deliveries {
            if node.is_draining() {
                // Not started: another node takes it at once.
                delivery.hand_back().await;
                node.metrics
                    .async_calls
                    .with_label_values(&["handed_back"])
                    .inc();
                continue;
            }
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (gw, node) = (gw.clone(), node.clone());
            node.clone().calls_running.spawn(async move {
                run(&gw, &node, delivery).await;
                drop(permit);
            });
        }
    }
}

/// Runs one delivered call: result stored, then acknowledged, then the callback.
async fn run(gw: &Gateway, node: &ClusterNode, delivery: Delivery) {
    let (id, meta, body) = match decode_call(&delivery.payload) {
        Ok(call) => call,
        Err(e) => {
            tracing::error!(error = %e, "dropping a malformed queued async call");
            let _ = delivery.ack().await;
            return;
        }
    };
    if delivery.delivered > 1
        && let Ok(Some(done)) = read(node, &id).await
        && done.meta.state != CallState::Queued
    {
        tracing::info!(call = %id, "delivered again after its result was stored: not run twice");
        node.metrics
            .async_calls
            .with_label_values(&["duplicate"])
            .inc();
        let _ = delivery.ack().await;
        return;
    }
    let outcome = if delivery.delivered > 1 {
        tracing::info!(call = %id, delivered = delivery.delivered, "running an async call again: the node that had it stopped answering");
        "redelivered"
    } else {
        "run"
    };
    node.metrics.async_calls.with_label_values(&[outcome]).inc();
    let delivery = Arc::new(delivery);
    let ack_wait = node.cluster.options().calls.ack_wait;
    let progress = {
        let delivery = delivery.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(ack_wait / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                delivery.progress().await;
            }
        })
    };
    let call = execute(gw, &id, meta, &body).await;
    progress.abort();
    let mut result = call.result_body.clone().unwrap_or_default();
    let room = node.cluster.max_payload().saturating_sub(STATE_OVERHEAD);
    if room > 0 && result.len() > room {
        result = Bytes::from(format!(
            "<response body not kept: {} bytes, more than the cluster NATS server's max_payload allows>",
            result.len()
        ));
    }
    let stored = match encode_state(&call.meta, &result) {
        Ok(state) => node
            .cluster
            .put_call_state(&id, state)
            .await
            .map_err(api_error),
        Err(e) => Err(e),
    };
    if let Err(e) = stored {
        // Not acknowledged: it runs again elsewhere after ack_wait rather than losing its result.
        tracing::error!(call = %id, error = %e, "cannot store an async call's result; it will run again");
        return;
    }
    if let Err(e) = delivery.ack().await {
        tracing::warn!(call = %id, error = %e, "result stored but the call not acknowledged: a redelivery will find the result and not run it");
    }
    if let Some(url) = call.meta.callback_url.clone() {
        super::callback::deliver(gw, &url, &call).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_and_states_round_trip_and_malformed_bytes_are_errors() {
        let meta = CallMeta {
            function: "f".into(),
            method: "POST".into(),
            path: "/x".into(),
            headers: vec![],
            callback_url: None,
            state: CallState::Queued,
            attempts: 0,
            created_at: 1,
            finished_at: None,
            result: None,
            token_hash: Some([1; 32]),
        };
        let bytes = encode_call("abc", &meta, b"body").unwrap();
        let (id, back, body) = decode_call(&bytes).unwrap();
        assert_eq!(
            (id.as_str(), &back, &body[..]),
            ("abc", &meta, &b"body"[..])
        );
        let state = encode_state(&meta, b"result").unwrap();
        let (back, body) = decode_state(&state).unwrap();
        assert_eq!((&back, &body[..]), (&meta, &b"result"[..]));
        for bad in [
            &b""[..],
            b"\x00",
            b"\x00\x09ab",
            b"\x00\x01a\x00\x00\x00\x09xy",
        ] {
            assert!(
                decode_call(&Bytes::copy_from_slice(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
