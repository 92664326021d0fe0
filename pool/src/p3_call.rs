//! One request through a WASI 0.3 `wasi:http/handler`: the guest's `async func handle` runs in
//! the store's concurrent event loop, which keeps running while the guest streams the body.

use crate::call::{Answer, trap_error};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::watched_body::WatchedBody;
use http_body_util::BodyExt as _;
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
pub(crate) async fn run(
    store: &mut Store<Host>,
    service: &Service,
    req: http::Request<WasiBody>,
    answer: oneshot::Sender<Answer>,
) -> Result<()> {
    let (request, request_io) =
        wasmtime_wasi_http::p3::Request::from_http(store.data_mut().http().hooks, req);
    store
        .run_concurrent(async |accessor| -> Result<()> {
            let response = match service
                .handle(accessor, request)
                .await
                .map_err(trap_error)?
            {
                Ok(response) => response,
                Err(code) => {
                    let _ = answer.send(Err(format!("{code:?}")));
                    return Ok(());
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
                return Ok(());
            }
            let _ = over.await;
            Ok(())
        })
        .await
        .map_err(trap_error)?
}
