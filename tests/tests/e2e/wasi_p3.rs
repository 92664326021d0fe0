//! WASI 0.3 components (`wasi:http/handler@0.3.0`, component-model async): they deploy, name
//! their release, stream, and live under the same limits, grants, egress guard, metrics and
//! scale-to-zero as 0.2 ones.

use crate::error_code;
use serde_json::Value;
use std::path::Path;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, eventually, guests, wasmgate_bin};

crate::covers!(http_p3, caps_p3_fetch);

/// The interface a wasi:http 0.3.0 component exports.
const P3_HANDLER: &str = "wasi:http/handler@0.3.0";

#[tokio::test]
async fn a_wasi_03_component_deploys_names_its_release_and_streams_the_body_back() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw.deploy("p3", guests::HTTP_P3).await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["wasi"]["version"], "0.3", "{body}");
    assert_eq!(body["wasi"]["interface"], P3_HANDLER, "{body}");

    // Larger than any one chunk, so the guest echoes it piece by piece.
    let sent: String = (0..200_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let response = gw
        .client()
        .post(gw.url("/fn/p3/echo?x=1"))
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-wasi"], "0.3");
    let echoed = response.text().await.unwrap();
    assert_eq!(echoed.len(), sent.len());
    assert!(echoed == sent, "the body came back changed");

    // An empty body, and the next request in a fresh instance.
    let response = gw.client().get(gw.url("/fn/p3")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");

    let hello: Value = gw
        .deploy("hello", guests::HTTP_HELLO)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(hello["wasi"]["version"], "0.2", "{hello}");
    assert!(
        hello["wasi"]["interface"]
            .as_str()
            .unwrap()
            .starts_with("wasi:http/incoming-handler@0.2."),
        "{hello}"
    );
}

#[tokio::test]
async fn a_wasi_03_trap_answers_500_guest_trap_is_counted_and_the_next_call_is_served() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("p3", guests::HTTP_P3).await.unwrap();
    let trap = gw.client().get(gw.url("/fn/p3?trap")).send().await.unwrap();
    assert_eq!(error_code(trap).await, (500, "guest_trap".into()));
    let next = gw
        .client()
        .post(gw.url("/fn/p3"))
        .body("again")
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    assert_eq!(next.text().await.unwrap(), "again");
    let labels = [("function", "p3"), ("status", "500")];
    assert_eq!(
        gw.counter("wasmgate_requests_total", &labels)
            .await
            .unwrap(),
        1.0
    );
}

#[tokio::test]
async fn a_wasi_03_guest_past_its_timeout_gets_504_and_scales_to_zero_after() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy_with_manifest(
        "p3",
        guests::HTTP_P3,
        "[limits]\ntimeout = \"1s\"\n[scale]\nidle_timeout = \"300ms\"",
    )
    .await
    .unwrap();
    let spin = gw.client().get(gw.url("/fn/p3?spin")).send().await.unwrap();
    assert_eq!(error_code(spin).await, (504, "timeout".into()));
    let next = gw
        .client()
        .post(gw.url("/fn/p3"))
        .body("still here")
        .send()
        .await
        .unwrap();
    assert_eq!(next.text().await.unwrap(), "still here");
    eventually(
        "the idle 0.3 function goes cold with no instance left",
        crate::DEADLINE,
        || async {
            let f = gw.function("p3").await.unwrap();
            (
                f["state"].as_str().unwrap_or("").to_owned(),
                f["instances"].as_u64(),
            )
        },
        |s| s == &("cold".to_owned(), Some(0)),
    )
    .await
    .unwrap();
    let again = gw
        .client()
        .post(gw.url("/fn/p3"))
        .body("cold start")
        .send()
        .await
        .unwrap();
    assert_eq!(again.text().await.unwrap(), "cold start");
}

#[tokio::test]
async fn a_wasi_03_client_import_is_denied_until_granted_and_passes_the_egress_guard() {
    let gw = Gateway::builder()
        .config_toml("[egress]\nallow = [\"127.0.0.0/8\"]\n")
        .start()
        .await
        .unwrap();
    // Without the grant, wasi:http/client is linked and every destination denied, as for 0.2.
    let response = gw.deploy("fetch", guests::CAPS_P3_FETCH).await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["linked_denied"],
        serde_json::json!(["wasi:http/client@0.3.0"]),
        "{body}"
    );
    let url = format!("/fn/fetch?url={}", gw.url("/healthz"));
    let response = gw.client().get(gw.url(&url)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("HttpRequestDenied"), "{text}");
    let labels = [("function", "fetch"), ("reason", "not_granted")];
    assert_eq!(
        gw.counter("wasmgate_egress_refused_total", &labels)
            .await
            .unwrap(),
        1.0
    );

    let signed = gw
        .sign(guests::CAPS_P3_FETCH, "fetch", &[Capability::HttpOutgoing])
        .unwrap();
    let response = gw.deploy_bytes("fetch", signed).await.unwrap();
    assert_eq!(response.status(), 200, "a new version of fetch");
    let url = format!("/fn/fetch?url={}", gw.url("/healthz"));
    let response = gw.client().get(gw.url(&url)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(
        text.starts_with("200 ") && text.contains("\"ok\""),
        "{text}"
    );

    // Outside the operator's list: refused by the same guard as a 0.2 request, and counted.
    let url = "/fn/fetch?url=http://169.254.169.254/latest/meta-data/";
    let response = gw.client().get(gw.url(url)).send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("DestinationIpProhibited"), "{text}");
    let labels = [("function", "fetch"), ("reason", "address_denied")];
    assert_eq!(
        gw.counter("wasmgate_egress_refused_total", &labels)
            .await
            .unwrap(),
        1.0
    );
}

#[test]
fn inspect_names_the_wasi_release_and_whether_it_is_served() {
    let run = |file: &str, json: bool| {
        let mut cmd = std::process::Command::new(wasmgate_bin());
        cmd.arg("inspect").arg(Path::new(file));
        if json {
            cmd.arg("--json");
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let report: Value = serde_json::from_str(&run(guests::HTTP_P3, true)).unwrap();
    assert_eq!(report["wasi"]["version"], "0.3");
    assert_eq!(report["wasi"]["interface"], P3_HANDLER);
    assert_eq!(report["wasi"]["served"], true);
    let text = run(guests::HTTP_P3, false);
    assert!(
        text.contains(&format!(
            "wasi:     0.3 ({P3_HANDLER}), served by this gateway"
        )),
        "{text}"
    );
    let text = run(guests::HTTP_HELLO, false);
    assert!(
        text.contains("wasi:     0.2 (wasi:http/incoming-handler@0.2."),
        "{text}"
    );
}

/// Whether a streamed body ended in an error (cut short) rather than cleanly, and its length.
async fn aborted(mut response: reqwest::Response) -> (bool, usize) {
    let mut len = 0;
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => len += chunk.len(),
            Ok(None) => return (false, len),
            Err(_) => return (true, len),
        }
    }
}

#[tokio::test]
async fn a_wasi_03_body_that_traps_or_outgrows_its_limit_is_cut_short_and_the_instance_released() {
    let gw = Gateway::builder().start().await.unwrap();
    let manifest = "[limits]\nmax_response_body = \"64KiB\"\ntimeout = \"300s\"";
    gw.deploy_with_manifest("p3", guests::HTTP_P3, manifest)
        .await
        .unwrap();

    let response = gw
        .client()
        .get(gw.url("/fn/p3?trap-mid-body"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the head went out before the trap");
    assert!(
        aborted(response).await.0,
        "a trapped body must not end cleanly"
    );

    // The echo streams what it reads; past the limit the host stops it, not the 300 s timeout.
    let response = gw
        .client()
        .post(gw.url("/fn/p3"))
        .body(vec![b'x'; 1 << 20])
        .send()
        .await
        .unwrap();
    let (cut, len) = aborted(response).await;
    assert!(cut && len <= 64 << 10, "cut: {cut}, {len} bytes");
    let labels = [("function", "p3"), ("limit", "response_body")];
    assert_eq!(
        gw.counter("wasmgate_guest_limits_total", &labels)
            .await
            .unwrap(),
        1.0
    );
    eventually(
        "p3 released its instances",
        crate::DEADLINE,
        || async { gw.function("p3").await.unwrap()["instances"].as_u64() },
        |n| *n == Some(0),
    )
    .await
    .unwrap();
    let next = gw
        .client()
        .post(gw.url("/fn/p3"))
        .body("ok")
        .send()
        .await
        .unwrap();
    assert_eq!(next.text().await.unwrap(), "ok");
}
