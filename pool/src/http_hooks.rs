//! The `wasi:http` hooks of one instance: outgoing requests go through the function's egress
//! guard instead of wasmtime-wasi-http's unchecked default sender.

use crate::guest_log::InstanceLog;
use std::sync::Arc;
use tracing::Instrument;
use wasmgate_capabilities::egress::EgressCtx;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

/// Per-instance hooks: the function's egress rules and the instance's log context (for the
/// request id of refusals). Two `Arc` clones per instance.
pub(crate) struct HttpHooks {
    egress: EgressCtx,
    log: Arc<InstanceLog>,
}

impl HttpHooks {
    pub(crate) fn new(egress: EgressCtx, log: Arc<InstanceLog>) -> Self {
        HttpHooks { egress, log }
    }
}

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _request_sent: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (
                        http::Response<WasiBody>,
                        Box<dyn Future<Output = Result<(), Error>> + Send>,
                    ),
                    Error,
                >,
            > + Send,
    > {
        let request_id: Arc<str> = self.log.request_id();
        let mut request = request;
        match crate::trace_context::outgoing(&mut request) {
            Some(span) => Box::new(
                self.egress
                    .send_request(request_id, request, options)
                    .instrument(span),
            ),
            None => Box::new(self.egress.send_request(request_id, request, options)),
        }
    }
}
