//! End-to-end tests: the real `wasmgate` binary on a free port, driven over HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod admission;
mod async_calls;
mod auth;
mod cli;
mod cli_client;
mod cli_deploy;
mod client_limits;
mod cloudevents;
mod cluster;
mod config;
mod conformance;
mod conformance_http;
mod cost;
mod crash;
mod dashboard;
mod deploy;
mod edge;
mod egress;
mod events;
mod health_checks;
mod invoke;
mod keyvalue;
mod leaks;
mod lifecycle;
mod limits;
mod names;
mod observability;
mod oci;
mod originals;
mod otel_traces;
mod quickstart;
mod quotas;
mod restart_under_load;
mod reuse;
mod scale_to_zero;
mod schedules;
mod templates;
mod tenancy;
mod versions;
mod wasi_http_cases;
mod wasi_p3;

use std::time::Duration;

/// Every guest some module here exercises (see `covers!`).
mod covered {
    pub(crate) use crate::admission::*;
    pub(crate) use crate::config::*;
    pub(crate) use crate::conformance::*;
    pub(crate) use crate::conformance_http::*;
    pub(crate) use crate::deploy::*;
    pub(crate) use crate::egress::*;
    pub(crate) use crate::events::*;
    pub(crate) use crate::invoke::*;
    pub(crate) use crate::keyvalue::*;
    pub(crate) use crate::leaks::*;
    pub(crate) use crate::limits::*;
    pub(crate) use crate::observability::*;
    pub(crate) use crate::reuse::*;
    pub(crate) use crate::wasi_http_cases::*;
    pub(crate) use crate::wasi_p3::*;
}

/// Fails to compile when a guest has no module declaring that it `covers!` it.
macro_rules! assert_test_exists {
    ($name:ident) => {
        #[expect(unused_imports, reason = "only checks that the marker exists")]
        use crate::covered::$name as _;
    };
}
wasmgate_tests::foreach_http!(assert_test_exists);
wasmgate_tests::foreach_limits!(assert_test_exists);
wasmgate_tests::foreach_caps!(assert_test_exists);
wasmgate_tests::foreach_leaks!(assert_test_exists);
wasmgate_tests::foreach_conf!(assert_test_exists);

/// Declares which guests a test module exercises.
macro_rules! covers {
    ($($name:ident),* $(,)?) => {
        $(
            #[expect(dead_code, reason = "a marker for assert_test_exists")]
            pub(crate) fn $name() {}
        )*
    };
}
pub(crate) use covers;

/// Generous deadline for things that happen in the background.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Waits until the `caps_events` guest deployed as `function` has stored `topic`'s message,
/// whose data is the topic itself (as the crash and restart tests publish them).
pub async fn wait_until_handled(gw: &wasmgate_tests::Gateway, function: &str, topic: &str) {
    wasmgate_tests::eventually(
        &format!("message {topic} handled by {function}"),
        DEADLINE,
        || async {
            let response = gw
                .client()
                .get(gw.url(&format!("/fn/{function}/{topic}")))
                .send()
                .await
                .unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        },
        |(status, body)| *status == 200 && body == topic,
    )
    .await
    .unwrap();
}

/// The `error.code` of a JSON error response, with its status.
pub async fn error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}
