//! One request through one instance: store, instantiate (unless it was made ahead or kept from an
//! earlier call), the guest's HTTP handler (`incoming-handler.handle` for WASI 0.2,
//! `handler.handle` for 0.3 in [`crate::p3_call`]), response, and, with reuse, keeping the
//! instance for the next call ([`crate::reuse`]).

use crate::cost::ColdStartPhases;
use crate::error::{Error, Result};
use crate::guest_log::RequestId;
use crate::host::Host;
use crate::response_body::{Cutoff, ResponseBody};
use crate::reuse::{self, Kept, KeptSets, ReusePolicy};
use crate::warm::{Ready, Warm};
use bytes::Bytes;
use http_body::Body;
use http_body_util::BodyExt as _;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use tracing::Instrument;
use wasmgate_capabilities::messaging::{GuestMessage, Message, MessagingRequestReply};
use wasmgate_capabilities::{Blame, guest_message};
use wasmtime::Store;
use wasmtime::component::Resource;
use wasmtime_wasi_http::handler::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

/// What the guest answered: the response head with its streaming body, or the `error-code` it
/// answered with instead (as text).
pub(crate) type Answer = std::result::Result<http::Response<WasiBody>, String>;

/// The request, made ready for the guest's WASI release before its task starts.
enum Entry {
    /// `incoming-request` and `response-outparam` in the store's table.
    P2 {
        req: Resource<HostIncomingRequest>,
        out: Resource<HostResponseOutparam>,
    },
    /// The request to hand to `handler.handle`, and where its answer goes.
    P3 {
        req: Box<http::Request<WasiBody>>,
        answer: oneshot::Sender<Answer>,
    },
}

/// Where a request's instance comes from.
pub(crate) enum Instance {
    /// Made ahead of demand (`min_instances`).
    Ready(Ready),
    /// Kept after an earlier call of the same version (`[scale] reuse = true`).
    Kept(Kept),
    /// A new store, instantiated for this request.
    Fresh(Store<Host>),
}

/// The limits one HTTP call runs under, and what becomes of its instance.
pub(crate) struct CallLimits {
    /// For the whole run, body streaming included.
    pub(crate) timeout: Duration,
    /// Largest response body, in bytes.
    pub(crate) max_response_body: u64,
    /// Where responses stopped at `max_response_body` are counted.
    pub(crate) response_hits: Arc<AtomicU64>,
    /// Keep the instance after a clean call; `None`: drop it.
    pub(crate) reuse: Option<ReusePolicy>,
    /// The node's kept instances, given back when a fresh instantiation finds no pooling slot.
    pub(crate) kept: Arc<KeptSets>,
}

/// Runs `req` on `warm` in `instance`.
///
/// The guest runs in its own task so it can keep streaming the body after the head is returned;
/// `keep` (the concurrency slot, the in-flight mark) is held by that task until the guest is done,
/// whether it finishes, fails, times out or is stopped for an oversized response.
pub(crate) async fn call<B, K>(
    warm: Arc<Warm>,
    instance: Instance,
    limits: CallLimits,
    req: http::Request<B>,
    keep: K,
) -> Result<http::Response<ResponseBody>>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<wasmtime_wasi_http::Error>,
    K: Send + 'static,
{
    let http = warm.http.as_ref().ok_or(Error::NoHttpHandler)?;
    // The first call on newly loaded code measures the rest of its cold start, when it makes
    // its instance itself.
    let first = warm.first_call() && matches!(instance, Instance::Fresh(_));
    let cold_started = first.then(Instant::now);
    let instantiated: Option<Arc<OnceLock<Instant>>> = first.then(Default::default);
    let mark = instantiated.clone();
    let started = Instant::now();
    let (mut store, proxy, uses) = match instance {
        Instance::Ready(Ready { mut store, proxy }) => {
            // Made ahead of demand: its CPU count and deadline start with the call.
            store.data_mut().cpu.restart();
            store.set_epoch_deadline(1);
            (store, Some(proxy), 0)
        }
        Instance::Kept(Kept {
            mut store,
            proxy,
            uses,
            ..
        }) => {
            // Its last call's CPU count, deadline and message count stay with that call.
            store.data_mut().next_call();
            store.set_epoch_deadline(1);
            (store, Some(proxy), uses)
        }
        Instance::Fresh(store) => (store, None, 0),
    };
    // With reuse, the response body and the task agree on the moment the instance is kept.
    let (call_end, body_end) = match limits.reuse {
        Some(_) => {
            let (call_end, body_end) = reuse::handshake();
            (Some(call_end), Some(body_end))
        }
        None => (None, None),
    };
    if let Some(RequestId(id)) = req.extensions().get::<RequestId>() {
        store.data().log.set_request(id.clone());
    }
    let log = store.data().log.clone();
    // The guest's task runs in the caller's (request) span, or a child of it with tracing on.
    let guest_span = crate::trace_context::guest_span(log.function());
    let (cost, load_time, link_time) = (warm.cost.clone(), warm.load_time, warm.link_time);
    let head = req.method() == http::Method::HEAD;
    let (sender, receiver) = oneshot::channel::<Answer>();
    // The body stops the guest through `stop`; the task says through `failed` why the guest did
    // not finish, before the body's stream ends with the store.
    let (stop, stopped) = oneshot::channel::<Error>();
    let (failed_tx, failed) = oneshot::channel::<Error>();
    let entry = match http {
        ProxyPre::P2(_) => {
            let mut data = store.data_mut().http();
            let req =
                data.new_incoming_request(Scheme::Http, req)
                    .map_err(|e| Error::NoResponse {
                        reason: format!("request not representable for the guest: {e:#}"),
                    })?;
            let out = data
                .new_response_outparam_from_callback(move |answer| {
                    let _ = sender.send(answer.map_err(|code| format!("{code:?}")));
                })
                .map_err(Error::engine)?;
            Entry::P2 { req, out }
        }
        ProxyPre::P3(_) => Entry::P3 {
            req: Box::new(crate::p3_call::incoming(
                req.map(|body| body.map_err(Into::into).boxed_unsync()),
            )?),
            answer: sender,
        },
    };

    let (timeout, policy, kept) = (limits.timeout, limits.reuse, limits.kept);
    let reusing = policy.is_some();
    let task = tokio::spawn(
        async move {
            // The instance, and whether its store is quiet enough to keep (no guest task left).
            let run = async {
                let proxy = match proxy {
                    Some(proxy) => proxy,
                    None => instantiate(&warm, &mut store, &kept).await?,
                };
                if let Some(mark) = &mark {
                    let _ = mark.set(Instant::now());
                }
                let quiet = match (&proxy, entry) {
                    (Proxy::P2(proxy), Entry::P2 { req, out }) => proxy
                        .wasi_http_incoming_handler()
                        .call_handle(&mut store, req, out)
                        .await
                        .map(|()| true)
                        .map_err(trap_error)?,
                    (Proxy::P3(service), Entry::P3 { req, answer }) => {
                        crate::p3_call::run(&mut store, service, *req, answer, reusing).await?
                    }
                    _ => {
                        return Err(Error::engine(
                            "the instance and the request are for different WASI releases",
                        ));
                    }
                };
                Ok((proxy, quiet))
            };
            let stopped = async {
                match stopped.await {
                    Ok(reason) => reason,
                    // The body finished or went away without stopping the guest: let it run.
                    Err(_) => std::future::pending().await,
                }
            };
            let result = tokio::select! {
                result = within(timeout, warm.cost.timed(run)) => result,
                reason = stopped => Err(reason),
            };
            let (result, ran) = match result {
                Ok(ran) => (Ok(()), Some(ran)),
                Err(e) => {
                    let _ = failed_tx.send(e.clone());
                    (Err(e), None)
                }
            };
            if let (Some((proxy, true)), Some(policy), Some(end)) = (ran, policy, call_end) {
                // Kept only once its response went out whole, within the call's time.
                let left = timeout.saturating_sub(started.elapsed());
                let whole = tokio::time::timeout(left, end.complete).await;
                if matches!(whole, Ok(Ok(()))) {
                    policy.park(&warm, &kept, store, proxy, uses.saturating_add(1));
                } else {
                    drop(store);
                }
                let _ = end.parked.send(());
            } else {
                // The store (and its live-instance mark) goes before the in-flight mark ends.
                drop(store);
            }
            drop(keep);
            result
        }
        .instrument(guest_span),
    );

    // Until the guest answers, the caller may give up (the client resets its stream or closes
    // its connection, dropping this future): nobody could see the answer, so the guest is
    // stopped instead of running to its time limit on a concurrency slot. RFC 9113 §8.7 lets a
    // server stop work on a cancelled stream; without it a client could start calls and reset
    // them at once to keep a function's whole concurrency busy.
    let mut abandoned = StopOnDrop(Some(stop));
    let answer = receiver.await;
    if let (Some(started), Some(at)) = (cold_started, instantiated.as_ref().and_then(|m| m.get())) {
        cost.cold_start(ColdStartPhases {
            load: load_time,
            link: link_time,
            instantiate: at.saturating_duration_since(started),
            first_response: at.elapsed(),
        });
    }
    let Some(stop) = abandoned.0.take() else {
        return Err(Error::engine(
            "the guest's stop signal was used before it answered",
        ));
    };
    match answer {
        Ok(Ok(response)) => {
            let mut response = Cutoff {
                limit: limits.max_response_body,
                stop,
                hits: limits.response_hits,
            }
            .wrap(response, head, failed, log)?;
            if let Some(end) = body_end {
                response.body_mut().hand_back(end);
            }
            // A small body of announced length goes with its head, or the call fails.
            response.body_mut().settle().await?;
            Ok(response)
        }
        Ok(Err(code)) => Err(Error::NoResponse {
            reason: format!("guest answered with error code {code}"),
        }),
        // The guest dropped the outparam without setting it: the task's result says why.
        Err(_) => Err(match task.await {
            Ok(Ok(())) => Error::NoResponse {
                reason: "guest returned without a response (response-outparam.set not called)"
                    .into(),
            },
            Ok(Err(e)) => e,
            Err(join) => Error::engine(format!("guest task failed: {join}")),
        }),
    }
}

/// Stops the guest through its stop signal when dropped while still holding it.
struct StopOnDrop(Option<oneshot::Sender<Error>>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(stop) = self.0.take() {
            let _ = stop.send(Error::NoResponse {
                reason: "the client went away before the guest answered".into(),
            });
        }
    }
}

/// Runs `message` through the guest's `wasi:messaging/incoming-handler` in `store`.
pub(crate) async fn handle_message<K>(
    warm: Arc<Warm>,
    mut store: Store<Host>,
    timeout: Duration,
    message: Message,
    keep: K,
) -> Result<std::result::Result<(), String>> {
    let started = warm.first_call().then(Instant::now);
    let mut instantiated = None;
    // With tracing on, the handler runs in a `guest` span, child of the delivery's span.
    let guest_span = crate::trace_context::guest_span(store.data().log.function());
    let run = async {
        let instance = warm
            .instance
            .instantiate_async(&mut store)
            .await
            .map_err(instantiate_error)?;
        instantiated = Some(Instant::now());
        let world =
            MessagingRequestReply::new(&mut store, &instance).map_err(|e| Error::NoResponse {
                reason: format!("does not export wasi:messaging/incoming-handler: {e:#}"),
            })?;
        let message = store
            .data_mut()
            .table()
            .push(GuestMessage::received(message))
            .map_err(Error::engine)?;
        let refused = world
            .wasi_messaging_incoming_handler()
            .call_handle(&mut store, message)
            .await
            .map_err(trap_error)?;
        Ok(refused.map_err(|e| format!("{e:?}")))
    };
    let result = within(timeout, warm.cost.timed(run.instrument(guest_span))).await;
    if let (Some(started), Some(at)) = (started, instantiated) {
        warm.cost.cold_start(ColdStartPhases {
            load: warm.load_time,
            link: warm.link_time,
            instantiate: at.saturating_duration_since(started),
            first_response: at.elapsed(),
        });
    }
    drop(store);
    drop(keep);
    result
}

/// `run`'s result, or [`Error::Timeout`] once `limit` has passed.
async fn within<T>(limit: Duration, run: impl Future<Output = Result<T>>) -> Result<T> {
    tokio::time::timeout(limit, run)
        .await
        .unwrap_or(Err(Error::Timeout { limit }))
}

/// Creates a pre-instantiated instance for `warm`, ready for one future request.
pub(crate) async fn prepare(warm: &Warm, mut store: Store<Host>) -> Result<Ready> {
    let proxy = warm
        .http
        .as_ref()
        .ok_or(Error::NoHttpHandler)?
        .instantiate_async(&mut store)
        .await
        .map_err(instantiate_error)?;
    Ok(Ready { store, proxy })
}

/// Instantiates `warm`'s HTTP handler in `store`. When the node's pooling slots are all taken,
/// the instances kept for reuse (every function's) are given back and it tries once more.
async fn instantiate(warm: &Warm, store: &mut Store<Host>, kept: &KeptSets) -> Result<Proxy> {
    let http = warm.http.as_ref().ok_or(Error::NoHttpHandler)?;
    match http
        .instantiate_async(&mut *store)
        .await
        .map_err(instantiate_error)
    {
        Err(Error::NodeSaturated { .. }) if kept.shed() > 0 => http
            .instantiate_async(&mut *store)
            .await
            .map_err(instantiate_error),
        other => other,
    }
}

/// Instantiation fails when the node's pooling slots are exhausted, or the guest's start traps.
fn instantiate_error(e: wasmtime::Error) -> Error {
    if e.downcast_ref::<wasmtime::Trap>().is_some() {
        return trap_error(e);
    }
    let text = format!("{e:#}");
    if text.contains("maximum concurrent") || text.contains("pooling allocator") {
        Error::NodeSaturated { reason: text }
    } else {
        Error::engine(text)
    }
}

/// Names the trap (or limit) that stopped the guest. A host function's error that stopped it is
/// named only when its message is fit for the caller (see [`guest_message`]); its detail is logged.
pub(crate) fn trap_error(e: wasmtime::Error) -> Error {
    let trap = match e.downcast_ref::<wasmtime::Trap>() {
        Some(trap) => trap.to_string(),
        None => {
            tracing::warn!(error = %format_args!("{e:#}"), "a host error stopped the guest");
            guest_message(
                "a host error stopped the guest",
                Blame::Guest,
                e.root_cause(),
            )
        }
    };
    Error::GuestTrap { trap }
}
