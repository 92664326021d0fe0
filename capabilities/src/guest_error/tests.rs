use super::*;

/// What `format!("{e:?}")` of a host error gave a guest under `RUST_BACKTRACE=1`, shortened.
const LEAKED: &str = "HttpRequestBodySize(Some(10))\n\nStack backtrace:\n   0: wasmtime_internal_core::error::error::Error::new\n             at /usr/local/cargo/registry/src/index.crates.io-1949cf8c6b5b557f/wasmtime-internal-core-48.0.8/src/error/error.rs:150:27\n   1: wasmtime_wasi_http::p2::body::HostIncomingBodyStream::read";

#[test]
fn a_host_failure_tells_the_guest_only_its_kind() {
    for detail in [
        "cannot open key-value database /var/lib/wasmgate/kv.redb: Permission denied (os error 13)",
        "connection refused",
        LEAKED,
    ] {
        assert_eq!(
            guest_message("storage failure", Blame::Host, &detail),
            "storage failure"
        );
    }
}

#[test]
fn a_guest_failure_keeps_its_own_message_when_it_is_fit() {
    let text = "key of 2000 bytes is longer than the limit of 1024 bytes";
    assert_eq!(guest_message("key too long", Blame::Guest, &text), text);
    let text = "HTTP request body size exceeds limit: 10 bytes";
    assert_eq!(guest_message("stream failed", Blame::Client, &text), text);
}

#[test]
fn a_guest_failure_whose_message_carries_host_detail_is_told_only_its_kind() {
    let forced = format!(
        "body too large\n\nStack backtrace:\n{}",
        std::backtrace::Backtrace::force_capture()
    );
    for text in [LEAKED, forced.as_str()] {
        assert_eq!(
            guest_message("request body too large", Blame::Guest, &text),
            "request body too large"
        );
    }
}

#[test]
fn text_with_paths_locations_frames_or_crate_names_is_not_fit() {
    for text in [
        "",
        "   ",
        "artifact /var/lib/wasmgate/artifacts/ab12.cwasm: No such file",
        "at src/keyvalue/host.rs:118",
        "failed in host.rs:118:5",
        "0: frame\n1: frame",
        "one line\r",
        "C:\\data\\kv.redb locked",
        "wasmtime::component::ResourceTableError",
        "Wasmtime trap",
        "cranelift error",
        "anyhow error",
        "hyper error: connection closed",
        "tokio task failed",
        "redb: Database already open",
        "redis: connection refused",
        "NATS publish failed",
        "Permission denied (os error 13)",
        "thread 'main' panicked",
        "disabled Backtrace",
        "wasmgate internal",
    ] {
        assert!(!is_fit_for_guest(text), "{text:?} passed");
    }
    assert!(!is_fit_for_guest(&"x".repeat(MAX_GUEST_MESSAGE + 1)));
}

#[test]
fn plain_sentences_with_names_and_numbers_are_fit() {
    for text in [
        "storage failure",
        "value is not a counter",
        "too many open buckets: an instance may hold at most 100 (limits.max_open_buckets); drop one before opening another",
        "no responders on `orders.created`",
        "connection reset",
        &"x".repeat(MAX_GUEST_MESSAGE),
    ] {
        assert!(is_fit_for_guest(text), "{text:?} refused");
    }
}
