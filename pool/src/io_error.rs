//! `wasi:io/error`, as guests see it: an error's debug string says what kind of failure it was,
//! never how the host got there.
//!
//! Every failed read or write a guest sees (its request body past `http.max_request_body`, an
//! upstream connection reset, a socket error) reaches it as a `wasi:io/error` resource, which
//! wasmtime-wasi holds as a `wasmtime::Error`. Its own `to-debug-string` answers `format!("{e:?}")`,
//! and with `RUST_BACKTRACE=1` or `RUST_LIB_BACKTRACE=1` in the gateway's environment that is the
//! host's stack: a hundred frames, crate versions and the build machine's paths. This module
//! replaces that one method in every linker: the guest gets [`guest_message`]'s text for the
//! error, and the full error (its cause chain, never its backtrace) goes to the log with the
//! function and request, under the function's log rate limit.

use crate::guest_log::InstanceLog;
use crate::host::Host;
use wasmgate_capabilities::{Blame, guest_message};
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};
use wasmtime_wasi::p2::bindings::io::error::{self, Error};
use wasmtime_wasi_http::p2::bindings::http::types::ErrorCode;

/// What a guest is told about a stream failure the host has no plainer words for.
const STREAM_FAILED: &str = "stream operation failed";

/// Links the guest-safe `wasi:io/error` over the one wasmtime-wasi put in `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let linked = error::add_to_linker::<Host, IoErrors>(linker, Host::io_errors);
    linker.allow_shadowing(false);
    linked
}

/// The `wasi:io/error` view of one instance: its resource table, and whose log errors go to.
pub(crate) struct IoErrorsView<'a> {
    pub(crate) table: &'a mut ResourceTable,
    pub(crate) log: &'a InstanceLog,
}

struct IoErrors;

impl HasData for IoErrors {
    type Data<'a> = IoErrorsView<'a>;
}

impl error::Host for IoErrorsView<'_> {}

impl error::HostError for IoErrorsView<'_> {
    fn drop(&mut self, err: Resource<Error>) -> wasmtime::Result<()> {
        self.table.delete(err)?;
        Ok(())
    }

    fn to_debug_string(&mut self, err: Resource<Error>) -> wasmtime::Result<String> {
        let error = self.table.get(&err)?;
        self.log
            .host_detail("a guest read an I/O error", &format!("{error:#}"));
        Ok(guest_text(error))
    }
}

/// The text a guest is handed for `error`: the wasi:http error (as a request body's stream holds
/// it) or error code, or the I/O error kind, it stands for, in words; anything else only as
/// [`STREAM_FAILED`].
pub(crate) fn guest_text(error: &wasmtime::Error) -> String {
    if let Some(http) = error.downcast_ref::<wasmtime_wasi_http::Error>() {
        return guest_message(STREAM_FAILED, Blame::Guest, http);
    }
    if let Some(code) = error.downcast_ref::<ErrorCode>() {
        let described = wasmtime_wasi_http::Error::from(code.clone());
        return guest_message(STREAM_FAILED, Blame::Guest, &described);
    }
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        return guest_message(STREAM_FAILED, Blame::Guest, &io.kind());
    }
    guest_message(STREAM_FAILED, Blame::Host, error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_code_is_told_in_words_and_anything_else_by_its_kind() {
        for body in [
            wasmtime::Error::new(wasmtime_wasi_http::Error::HttpRequestBodySize(Some(10))),
            wasmtime::Error::new(ErrorCode::HttpRequestBodySize(Some(10))),
        ] {
            assert_eq!(
                guest_text(&body),
                "HTTP request body size exceeds limit: 10 bytes"
            );
        }
        let refused = wasmtime::Error::new(wasmtime_wasi_http::Error::Connect(
            std::io::Error::other("connect to /run/secret.sock failed"),
        ));
        assert_eq!(guest_text(&refused), STREAM_FAILED);
        let reset = wasmtime::Error::new(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert_eq!(guest_text(&reset), "connection reset");
        let internal = wasmtime::Error::new(ErrorCode::InternalError(Some(
            "open /var/lib/wasmgate/x: denied".into(),
        )));
        assert_eq!(guest_text(&internal), STREAM_FAILED);
        let other = wasmtime::format_err!("redb: cannot open /var/lib/wasmgate/kv.redb");
        assert_eq!(guest_text(&other), STREAM_FAILED);
    }
}
