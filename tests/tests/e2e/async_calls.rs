//! Async invocation: 202 with `X-Call-Id` and a secret, the result at `/calls/{id}` for the
//! secret's holder and the admin only, a callback POST (no redirects followed), retries of 5xx
//! answers, per-function bounded queues, bodies bounded and stored as bytes, credentials never
//! stored, and calls accepted before a crash running after the restart.

use crate::error_code;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use wasmgate_tests::{Gateway, guests};

/// An accepted call: its id and the secret that reads it.
struct Call {
    id: String,
    token: String,
}

/// POST /async/... with `body`; asserts the 202 and returns the call.
async fn submit(gw: &Gateway, path: &str, body: impl Into<reqwest::Body>) -> Call {
    submit_with(gw, path, body, &[]).await
}

/// POST /async/... with extra headers; asserts the 202 and returns the call.
async fn submit_with(
    gw: &Gateway,
    path: &str,
    body: impl Into<reqwest::Body>,
    headers: &[(&str, &str)],
) -> Call {
    let mut request = reqwest::Client::new().post(gw.url(path)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202);
    let id = response.headers()["x-call-id"].to_str().unwrap().to_owned();
    let token = response.headers()["x-call-token"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    assert_eq!(body["token"], token.as_str());
    Call { id, token }
}

/// GET /calls/{id} with `bearer` (none when empty), from a client without admin credentials.
async fn read(gw: &Gateway, id: &str, bearer: &str) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(gw.url(&format!("/calls/{id}")));
    if !bearer.is_empty() {
        request = request.bearer_auth(bearer);
    }
    request.send().await.unwrap()
}

/// The call once it has finished, read with its own secret.
async fn finished(gw: &Gateway, call: &Call) -> Value {
    wasmgate_tests::eventually(
        "the call finished",
        crate::DEADLINE,
        || async {
            let response = read(gw, &call.id, &call.token).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        },
        |call| call["state"] != "queued",
    )
    .await
    .unwrap()
}

fn calls_file(gw: &Gateway) -> std::path::PathBuf {
    gw.data_dir().join("calls.redb")
}

#[tokio::test]
async fn an_async_call_answers_202_and_keeps_its_result() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let call = submit(&gw, "/async/echo/orders/7?x=1", "payload").await;
    let done = finished(&gw, &call).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["attempts"], 1);
    assert_eq!(done["result"]["status"], 200);
    let echoed: Value = serde_json::from_str(done["result"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path_with_query"], "/orders/7?x=1");
    assert_eq!(echoed["body"], "payload");

    assert_eq!(read(&gw, "nope", "").await.status(), 404);
    let unknown = gw
        .client()
        .post(gw.url("/async/nobody"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let wrong = gw.client().get(gw.url("/async/echo")).send().await.unwrap();
    assert_eq!(wrong.status(), 405);
    let bad = gw
        .client()
        .post(gw.url("/async/echo"))
        .header("x-callback-url", "ftp://x")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn a_result_is_read_only_with_its_own_secret_or_the_admin_token() {
    const ADMIN: &str = "admin-token-for-calls-0123456789";
    let gw = Gateway::builder().admin_token(ADMIN).start().await.unwrap();
    let deployed = gw
        .client()
        .put(gw.url("/functions/hello"))
        .bearer_auth(ADMIN)
        .header("content-type", "application/wasm")
        .body(gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let first = submit(&gw, "/async/hello", "").await;
    let second = submit(&gw, "/async/hello", "").await;
    assert_eq!(finished(&gw, &first).await["state"], "done");

    for (bearer, why) in [
        ("", "no secret"),
        (second.token.as_str(), "another call's secret"),
        ("not-a-secret", "a made-up secret"),
    ] {
        let response = read(&gw, &first.id, bearer).await;
        assert_eq!(
            error_code(response).await,
            (404, "not_found".into()),
            "{why}: the answer must not confirm the call exists"
        );
    }
    let with_admin = read(&gw, &first.id, ADMIN).await;
    assert_eq!(with_admin.status(), 200);
    let view: Value = with_admin.json().await.unwrap();
    assert_eq!(view["id"], first.id.as_str());
    assert!(
        !view.to_string().contains(&first.token),
        "the view never shows the secret"
    );
    assert_eq!(read(&gw, &second.id, &second.token).await.status(), 200);
}

#[tokio::test]
async fn a_function_with_invoke_tokens_takes_async_calls_only_from_their_holders() {
    let gw = Gateway::builder().start().await.unwrap();
    let caller = "caller-token-of-the-async-team";
    let digest = hex::encode(Sha256::digest(caller.as_bytes()));
    let manifest = format!("[http]\ninvoke_token_sha256 = [\"{digest}\"]\n");
    let deployed = gw
        .deploy_with_manifest("hello", guests::HTTP_HELLO, &manifest)
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let before = std::fs::read(calls_file(&gw)).unwrap();
    for bearer in ["", "guess"] {
        let mut request = reqwest::Client::new().post(gw.url("/async/hello"));
        if !bearer.is_empty() {
            request = request.bearer_auth(bearer);
        }
        let refused = request.body("x").send().await.unwrap();
        assert_eq!(error_code(refused).await, (401, "unauthorized".into()));
    }
    assert!(
        before == std::fs::read(calls_file(&gw)).unwrap(),
        "a refused call was stored"
    );
    let auth = format!("Bearer {caller}");
    let call = submit_with(&gw, "/async/hello", "", &[("authorization", auth.as_str())]).await;
    assert_eq!(finished(&gw, &call).await["state"], "done");
}

#[tokio::test]
async fn a_body_over_max_body_is_refused_with_413_and_nothing_is_stored() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let before = std::fs::read(calls_file(&gw)).unwrap();
    let response = reqwest::Client::new()
        .post(gw.url("/async/hello"))
        .body(vec![b'x'; (1 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "payload_too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1048576") && message.contains("async_calls.max_body"),
        "{message}"
    );
    let after = std::fs::read(calls_file(&gw)).unwrap();
    assert!(before == after, "calls.redb changed: something was stored");
}

#[tokio::test]
async fn a_stored_call_takes_about_its_body_size_on_disk() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let size = || std::fs::metadata(calls_file(&gw)).unwrap().len();
    let before = size();
    // Exactly `async_calls.max_body`: accepted.
    let call = submit(&gw, "/async/hello", vec![b'x'; 1 << 20]).await;
    let stored = size();
    assert_eq!(finished(&gw, &call).await["state"], "done");
    let grown = size().max(stored) - before;
    assert!(
        grown < 3 << 20,
        "a 1MiB body grew calls.redb by {grown} bytes"
    );
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after_and_every_accepted_call_completes() {
    let gw = Gateway::builder()
        .config_toml("[async_calls]\nmax_queued = 2\n")
        .start()
        .await
        .unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();
    // Running calls hold their place too: both stay unfinished while the third arrives.
    let first = submit(&gw, "/async/slow?ms=4000", "").await;
    let second = submit(&gw, "/async/slow?ms=4000", "").await;
    let refused = reqwest::Client::new()
        .post(gw.url("/async/slow?ms=1"))
        .send()
        .await
        .unwrap();
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(error_code(refused).await, (429, "async_queue_full".into()));

    for call in [&first, &second] {
        let done = finished(&gw, call).await;
        assert_eq!(done["result"]["body"], "slept 4000", "{done}");
    }
    // The places are given back with the results.
    let third = submit(&gw, "/async/slow?ms=1", "").await;
    assert_eq!(finished(&gw, &third).await["state"], "done");
}

#[tokio::test]
async fn credentials_are_neither_stored_nor_given_to_the_guest() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let credentials = [
        ("authorization", "Bearer cred-7f3a-authorization"),
        ("cookie", "session=cred-7f3a-cookie"),
        ("proxy-authorization", "Basic cred-7f3a-proxy"),
    ];
    let mut headers = credentials.to_vec();
    headers.push(("x-trace", "visible-7f3a-header"));
    let call = submit_with(&gw, "/async/echo", "payload", &headers).await;
    let done = finished(&gw, &call).await;
    let echoed: Value = serde_json::from_str(done["result"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["headers"]["x-trace"], "visible-7f3a-header");
    for (name, _) in credentials {
        assert!(
            echoed["headers"].get(name).is_none(),
            "the guest saw {name}"
        );
    }

    let raw = std::fs::read(calls_file(&gw)).unwrap();
    let holds = |needle: &str| raw.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(
        holds("visible-7f3a-header"),
        "the search finds stored headers"
    );
    for needle in [
        "cred-7f3a-authorization",
        "cred-7f3a-cookie",
        "cred-7f3a-proxy",
    ] {
        assert!(!holds(needle), "calls.redb holds {needle}");
    }
    // Nor its hash-only secret: the file never holds the caller's token.
    assert!(!holds(&call.token));
    let hash: [u8; 32] = Sha256::digest(call.token.as_bytes()).into();
    assert!(
        raw.windows(32).any(|w| w == hash),
        "the secret's hash is stored"
    );
}

/// What a callback receiver got: each request's path and JSON body.
type Received = Arc<Mutex<Vec<(String, Value)>>>;

/// A callback receiver at the returned base URL: records each request, answers what `answer`
/// says for the path (status, `Location`).
fn receiver(answer: fn(&str) -> (u16, Option<&'static str>)) -> (String, Received) {
    let received: Received = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let sink = sink.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = req.into_body().collect().await?.to_bytes();
                        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        sink.lock().unwrap().push((path.clone(), json));
                        let (status, location) = answer(&path);
                        let mut response = http::Response::new(Full::new(Bytes::new()));
                        *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
                        if let Some(location) = location {
                            response
                                .headers_mut()
                                .insert("location", location.parse().unwrap());
                        }
                        Ok::<_, hyper::Error>(response)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    (base, received)
}

/// Callback receivers here listen on loopback, which the egress guard refuses unless opened.
const OPEN_LOOPBACK: &str = "[egress]\nallow = [\"127.0.0.0/8\"]\n";

#[tokio::test]
async fn a_callback_to_an_internal_address_is_refused_by_the_egress_guard() {
    // The receiver stands in for an internal service (or the gateway's own admin API).
    let (base, received) = receiver(|_| (200, None));
    let gw = Gateway::builder().capture_logs().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let port = base.rsplit(':').next().unwrap();
    let by_ip = format!("{base}/hook");
    let by_name = format!("http://localhost:{port}/hook");
    let metadata = "http://169.254.169.254/latest/meta-data/".to_owned();
    let mut calls = Vec::new();
    for hook in [&by_ip, &by_name, &metadata] {
        calls.push(
            submit_with(
                &gw,
                "/async/hello",
                "",
                &[("x-callback-url", hook.as_str())],
            )
            .await,
        );
    }
    for call in &calls {
        assert_eq!(
            finished(&gw, call).await["state"],
            "done",
            "the call itself runs"
        );
    }
    wasmgate_tests::eventually(
        "three refusals counted",
        crate::DEADLINE,
        || async { gw.metrics().await.unwrap() },
        |scrape| {
            wasmgate_tests::metric_sample(
                scrape,
                "wasmgate_egress_refused_total",
                &[("function", "hello"), ("reason", "address_denied")],
            ) == Some(3.0)
        },
    )
    .await
    .unwrap();
    assert!(
        received.lock().unwrap().is_empty(),
        "the receiver was reached"
    );
    assert!(
        gw.logs()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("callback refused by the egress guard")),
        "{:#?}",
        gw.logs()
    );
}

#[tokio::test]
async fn failures_are_retried_then_reported_and_callbacks_get_the_result() {
    let (base, received) = receiver(|_| (200, None));
    let callback = format!("{base}/hook");
    let gw = Gateway::builder()
        .config_toml(&format!(
            "[events]\nmax_attempts = 3\nbackoff = \"20ms\"\n{OPEN_LOOPBACK}"
        ))
        .start()
        .await
        .unwrap();
    gw.deploy("panic", guests::LIMITS_PANIC).await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let hook = [("x-callback-url", callback.as_str())];
    let failing = submit_with(&gw, "/async/panic", "", &hook).await;
    let ok = submit_with(&gw, "/async/hello", "", &hook).await;
    let call = finished(&gw, &failing).await;
    assert_eq!(call["state"], "failed", "{call}");
    assert_eq!(call["attempts"], 3);
    assert_eq!(call["result"]["status"], 500);
    assert_eq!(finished(&gw, &ok).await["state"], "done");

    let delivered = wasmgate_tests::eventually(
        "both callbacks arrived",
        crate::DEADLINE,
        || async { received.lock().unwrap().clone() },
        |r| r.len() == 2,
    )
    .await
    .unwrap();
    let states: Vec<(String, String)> = delivered
        .iter()
        .map(|(_, c)| {
            assert!(!c.to_string().contains(&failing.token), "{c}");
            assert!(!c.to_string().contains(&ok.token), "{c}");
            (
                c["id"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(failing.id.clone(), "failed".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(ok.id.clone(), "done".into())),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_callback_follows_no_redirect() {
    // `/hook` redirects to `/elsewhere`, which would accept the result.
    let (base, received) = receiver(|path| match path {
        "/hook" => (307, Some("/elsewhere")),
        _ => (200, None),
    });
    let gw = Gateway::builder()
        .config_toml(OPEN_LOOPBACK)
        .start()
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let hook = format!("{base}/hook");
    submit_with(
        &gw,
        "/async/hello",
        "",
        &[("x-callback-url", hook.as_str())],
    )
    .await;
    // A followed redirect would succeed at `/elsewhere` and end delivery after one try; a
    // refused one is retried at `/hook`, and a redirect from the first try would have arrived
    // before the second.
    let seen = wasmgate_tests::eventually(
        "the callback was retried",
        crate::DEADLINE,
        || async { received.lock().unwrap().clone() },
        |r| r.iter().filter(|(p, _)| p == "/hook").count() >= 2,
    )
    .await
    .unwrap();
    assert!(seen.iter().all(|(p, _)| p == "/hook"), "{seen:?}");
}

#[tokio::test]
async fn calls_accepted_before_a_crash_run_after_the_restart() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();
    let call = submit(&gw, "/async/slow?ms=3000", "").await;
    // Killed while the call runs: nothing finished, the call is still queued in the store.
    gw.restart().await.unwrap();
    let done = finished(&gw, &call).await;
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["result"]["body"], "slept 3000");
}
