//! One request through a WASI 0.3 `wasi:http/handler`: the guest's `async func handle` runs in
//! the store's concurrent event loop, which keeps running while the guest streams the body.

use crate::call::{Answer, trap_error};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::watched_body::WatchedBody;
use http_body_util::BodyExt as _;
use std::task::{Context, Waker};
use std::time::Duration;
use tokio::sync::oneshot;
use wasmtime::Store;
use wasmtime_wasi_http::p3::bindings::Service;
use wasmtime_wasi_http::{WasiBody, WasiHttpView};

/// The request as a 0.3 guest sees it: an absolute `http://` URI, its authority taken from the
/// `Host` header when the request line has none, as 0.2's `incoming-request` has it.
pub(crate) fn incoming(req: http::Request<WasiBody>) -> Result<http::Request<WasiBody>> {
    let (mut parts, body) = req.into_parts();
    if parts.uri.authority().is_none() {
        let host = parts
            .headers
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .ok_or_else(|| Error::NoResponse {
                reason: "request not representable for the guest: no authority in the URI nor a host header".into(),
            })?;
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", http::uri::PathAndQuery::as_str);
        parts.uri = http::Uri::builder()
            .scheme(http::uri::Scheme::HTTP)
            .authority(host)
            .path_and_query(path)
            .build()
            .map_err(|e| Error::NoResponse {
                reason: format!("request not representable for the guest: {e}"),
            })?;
    }
    Ok(http::Request::from_parts(parts, body))
}

/// Calls `service`'s handler with `req` in `store` and sends its answer on `answer`.
///
/// Returns once the response body is over (the guest finished it, it failed, or the client went
/// away and it was dropped), the guest answered with an error code, or nobody waits for the
/// answer any more. A trap anywhere in the guest, before or after it answered, is the error.
///
/// With `reuse`, it then waits up to [`QUIET_GRACE`] for the guest's tasks to exit, and returns
/// whether the store is quiet: no task of the guest left running (it would go on inside the next
/// call) and the instance ready for another call. Without, or when the guest answered with an
/// error code, it returns `false`.
pub(crate) async fn run(
    store: &mut Store<Host>,
    service: &Service,
    req: http::Request<WasiBody>,
    answer: oneshot::Sender<Answer>,
    reuse: bool,
) -> Result<bool> {
    let (request, request_io) =
        wasmtime_wasi_http::p3::Request::from_http(store.data_mut().http().hooks, req);
    let handle = *service.wasi_http_handler().func_handle().func();
    store
        .run_concurrent(async |accessor| -> Result<bool> {
            let response = match service
                .handle(accessor, request)
                .await
                .map_err(trap_error)?
            {
                Ok(response) => response,
                Err(code) => {
                    let _ = answer.send(Err(format!("{code:?}")));
                    return Ok(false);
                }
            };
            let response = accessor
                .with(|mut store| {
                    response.into_http_with_getter(&mut store, request_io, Host::http)
                })
                .map_err(|e| Error::NoResponse {
                    reason: format!("the guest's response is not valid HTTP: {e:#}"),
                })?;
            let (parts, body) = response.into_parts();
            let (body, over) = WatchedBody::new(body);
            let response = http::Response::from_parts(parts, body.boxed_unsync());
            if answer.send(Ok(response)).is_err() {
                return Ok(false);
            }
            let _ = over.await;
            if !reuse {
                return Ok(false);
            }
            let exited = std::future::poll_fn(|cx| accessor.poll_no_interesting_tasks(cx));
            if tokio::time::timeout(QUIET_GRACE, exited).await.is_err() {
                return Ok(false);
            }
            let mut cx = Context::from_waker(Waker::noop());
            Ok(accessor
                .poll_ready_for_concurrent_call(handle, &mut cx)
                .is_ready())
        })
        .await
        .map_err(trap_error)?
}

/// How long a finished call waits for its guest's tasks to exit before its instance is judged
/// busy and dropped instead of kept: a task exits within microseconds of closing its response
/// body, so one still running after a millisecond is doing work of its own (a spawned background
/// job), which must not run on into the next request.
const QUIET_GRACE: Duration = Duration::from_millis(1);
