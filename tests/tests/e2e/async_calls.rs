//! Async invocation: 202 with `X-Call-Id`, the result at `/calls/{id}`, a callback POST, retries of
//! 5xx answers, per-function queues, and calls accepted before a crash running after the restart.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::Value;
use std::sync::{Arc, Mutex};
use wasmgate_tests::{Gateway, guests};

/// POST /async/... and the call id.
async fn submit(gw: &Gateway, path: &str, body: &str, callback: Option<&str>) -> String {
    let mut request = gw.client().post(gw.url(path)).body(body.to_owned());
    if let Some(url) = callback {
        request = request.header("x-callback-url", url);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 202);
    let id = response.headers()["x-call-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.as_str());
    id
}

/// The call once it has finished.
async fn finished(gw: &Gateway, id: &str) -> Value {
    let url = gw.url(&format!("/calls/{id}"));
    let client = gw.client().clone();
    wasmgate_tests::eventually(
        "the call finished",
        crate::DEADLINE,
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                client
                    .get(url)
                    .send()
                    .await
                    .unwrap()
                    .json::<Value>()
                    .await
                    .unwrap()
            }
        },
        |call| call["state"] != "queued",
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn an_async_call_answers_202_and_keeps_its_result() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let id = submit(&gw, "/async/echo/orders/7?x=1", "payload", None).await;
    let call = finished(&gw, &id).await;
    assert_eq!(call["state"], "done", "{call}");
    assert_eq!(call["attempts"], 1);
    assert_eq!(call["result"]["status"], 200);
    let echoed: Value = serde_json::from_str(call["result"]["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path_with_query"], "/orders/7?x=1");
    assert_eq!(echoed["body"], "payload");

    let missing = gw.client().get(gw.url("/calls/nope")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
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
async fn failures_are_retried_then_reported_and_callbacks_get_the_result() {
    // A receiver for callbacks.
    let received: Arc<Mutex<Vec<Value>>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!("http://{}/hook", listener.local_addr().unwrap());
    let sink = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let sink = sink.clone();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let sink = sink.clone();
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        sink.lock()
                            .unwrap()
                            .push(serde_json::from_slice(&body).unwrap());
                        Ok::<_, hyper::Error>(http::Response::new(Full::new(Bytes::new())))
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });

    let gw = Gateway::builder()
        .config_toml("[events]\nmax_attempts = 3\nbackoff = \"20ms\"\n")
        .start()
        .await
        .unwrap();
    gw.deploy("panic", guests::LIMITS_PANIC).await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let failing = submit(&gw, "/async/panic", "", Some(&callback)).await;
    let ok = submit(&gw, "/async/hello", "", Some(&callback)).await;
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
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        states.contains(&(failing.clone(), "failed".into())),
        "{states:?}"
    );
    assert!(states.contains(&(ok.clone(), "done".into())), "{states:?}");
}

#[tokio::test]
async fn calls_accepted_before_a_crash_run_after_the_restart() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();
    let id = submit(&gw, "/async/slow?ms=3000", "", None).await;
    // Killed while the call runs: nothing finished, the call is still queued in the store.
    gw.restart().await.unwrap();
    let call = finished(&gw, &id).await;
    assert_eq!(call["state"], "done", "{call}");
    assert_eq!(call["result"]["body"], "slept 3000");
}
