//! HTTP conformance at the edge, as kinds of behaviour rather than instances: no request body is
//! invited (`100 Continue`) or read when it will be refused, and no response the guest did not
//! complete reaches any client (HTTP/1.0, HTTP/1.1, HTTP/2) looking complete, is counted as a
//! success, or goes unlogged.

use crate::{DEADLINE, covers, error_code};
use serde_json::Value;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgate_tests::{Gateway, eventually, guests};

covers!(http_cut);

/// 40 MiB: over the default `http.max_request_body` (32 MiB) by more than the gateway would
/// ever drain of a refused body.
const FORTY_MIB: u64 = 40 * 1024 * 1024;

/// What a client that waits for `100 Continue` gets back for `head` (which ends in an empty
/// line and announces a body it never sends): everything the server sent before closing or
/// going quiet for a few seconds.
async fn answer_without_upload(gw: &Gateway, head: &str) -> String {
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Quiet for 3 s ends the read: a server that sent 100 Continue waits for the body.
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await
    {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// The JSON body of a raw HTTP/1.1 answer.
fn json_body(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not a JSON body ({e}): {answer}"))
}

#[tokio::test]
async fn a_body_announced_over_its_limit_is_refused_before_100_continue_on_every_endpoint() {
    let gw = Gateway::builder()
        .config_toml("max_module_size = \"1MiB\"\n")
        .start()
        .await
        .unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let token = gw.admin_token().unwrap().unwrap();
    let two_mib = 2 * 1024 * 1024;
    let cases = [
        (
            format!(
                "POST /fn/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: {FORTY_MIB}\r\n\r\n"
            ),
            "http.max_request_body",
        ),
        (
            format!(
                "PUT /functions/big HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/wasm\r\nExpect: 100-continue\r\nContent-Length: {two_mib}\r\n\r\n"
            ),
            "max_module_size",
        ),
        (
            format!(
                "POST /publish/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nExpect: 100-continue\r\nContent-Length: {two_mib}\r\n\r\n"
            ),
            "max_module_size",
        ),
    ];
    for (head, setting) in cases {
        let answer = answer_without_upload(&gw, &head).await;
        assert!(
            answer.starts_with("HTTP/1.1 413 "),
            "the first thing back must be the final 413, not 100 Continue: {answer:?}"
        );
        let body = json_body(&answer);
        assert_eq!(body["error"]["code"], "payload_too_large", "{answer}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(setting), "{message}");
    }
    // A refusal for another reason (no credentials) does not invite the body either.
    let answer = answer_without_upload(
        &gw,
        "PUT /functions/big HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401 "), "{answer:?}");
    // Within the limit, the body is still invited.
    let answer = answer_without_upload(
        &gw,
        "POST /fn/echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .await;
    assert!(
        answer.starts_with("HTTP/1.1 100 Continue\r\n"),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_http2_body_announced_over_its_limit_is_answered_before_any_data() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    let tcp = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::post(gw.url("/fn/echo"))
        .header("content-length", FORTY_MIB.to_string())
        .body(())
        .unwrap();
    // HEADERS only: no DATA is ever sent.
    let (response, _body) = send.send_request(request, false).unwrap();
    // The refused body used to be drained for up to 5 s before the answer.
    let response = tokio::time::timeout(Duration::from_secs(3), response)
        .await
        .expect("the 413 should come without waiting for DATA")
        .unwrap();
    assert_eq!(response.status(), 413);
}

/// Reads `stream` to its end and returns what came and how it ended: `Ok(())` for a clean close
/// (FIN), or the read error.
async fn read_until_end(stream: &mut TcpStream) -> (Vec<u8>, std::io::Result<()>) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(DEADLINE, stream.read(&mut buf))
            .await
            .expect("the server should end the connection");
        match read {
            Ok(0) => return (seen, Ok(())),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) => return (seen, Err(e)),
        }
    }
}

/// Sends `request` on a new connection and reads until the server ends it.
async fn raw(gw: &Gateway, request: &str) -> (Vec<u8>, std::io::Result<()>) {
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until_end(&mut stream).await
}

/// Asserts that an HTTP/1.0 exchange ended in a connection reset, not a clean close.
fn assert_reset(what: &str, (seen, end): (Vec<u8>, std::io::Result<()>)) {
    match end {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{what}: {e}"),
        Ok(()) => panic!(
            "{what}: a clean close makes the cut body look complete: {:?}",
            String::from_utf8_lossy(&seen)
        ),
    }
}

/// `wasmgate_requests_total{function, status}`.
async fn requests(gw: &Gateway, function: &str, status: &str) -> f64 {
    gw.counter(
        "wasmgate_requests_total",
        &[("function", function), ("status", status)],
    )
    .await
    .unwrap()
}

/// Waits until the log has a warning or error of the gateway about `function` carrying
/// `request_id`.
async fn until_logged(gw: &Gateway, function: &str, request_id: &str) {
    let found = || async {
        gw.logs()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| {
                (v["level"] == "WARN" || v["level"] == "ERROR")
                    && v["fields"]["function"] == function
                    && v["fields"]["request_id"] == request_id
            })
    };
    eventually(
        &format!("a warning about {function} with request id {request_id}"),
        DEADLINE,
        found,
        |found| *found,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_body_cut_by_a_trap_ends_an_http10_connection_with_a_reset() {
    let gw = Gateway::builder()
        .capture_logs()
        .arg("--log-format")
        .arg("json")
        .start()
        .await
        .unwrap();
    gw.deploy("cut", guests::HTTP_CUT).await.unwrap();
    // Close-delimited: without a reset, the FIN would end the body as if it were complete.
    let ended = raw(
        &gw,
        "GET /fn/cut?write=3000&trap=1 HTTP/1.0\r\nX-Request-Id: trap-http10\r\n\r\n",
    )
    .await;
    assert_reset("HTTP/1.0, trapped after 3000 bytes", ended);
    // Logged with the function and the request id, and counted as the failure it was.
    until_logged(&gw, "cut", "trap-http10").await;
    assert_eq!(requests(&gw, "cut", "500").await, 1.0);
    assert_eq!(requests(&gw, "cut", "200").await, 0.0);
}

#[tokio::test]
async fn a_response_whose_length_does_not_match_its_content_length_is_never_sent_as_complete() {
    let gw = Gateway::builder()
        .capture_logs()
        .arg("--log-format")
        .arg("json")
        .start()
        .await
        .unwrap();
    gw.deploy("cut", guests::HTTP_CUT).await.unwrap();
    let mut failures = 0.0;
    // Known before the head leaves (a small declared body): a 500 naming the mismatch.
    for (query, id) in [
        ("declare=100&write=5", "short-small"),
        ("declare=5&write=100", "long-small"),
    ] {
        let response = gw
            .client()
            .get(gw.url(&format!("/fn/cut?{query}")))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{query}: no answer: {e}"));
        assert_eq!(
            error_code(response).await,
            (500, "response_length_mismatch".into()),
            "{query}"
        );
        until_logged(&gw, "cut", id).await;
        failures += 1.0;
    }
    // Found after the head left (a large declared body): every client sees an error.
    let short_large = "/fn/cut?declare=1000000&write=5";
    let http11 = gw
        .client()
        .get(gw.url(short_large))
        .header("x-request-id", "short-large-http11")
        .send()
        .await;
    if let Ok(response) = http11 {
        assert!(
            response.bytes().await.is_err(),
            "HTTP/1.1 body looked complete"
        );
    }
    until_logged(&gw, "cut", "short-large-http11").await;
    failures += 1.0;
    let ended = raw(
        &gw,
        &format!("GET {short_large} HTTP/1.0\r\nX-Request-Id: short-large-http10\r\n\r\n"),
    )
    .await;
    assert_reset("HTTP/1.0, 5 of 1000000 bytes", ended);
    until_logged(&gw, "cut", "short-large-http10").await;
    failures += 1.0;
    let tcp = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut send, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(gw.url(short_large))
        .header("x-request-id", "short-large-http2")
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    // The reset may come before the head or in the body; never a clean end.
    // A reset stream answers every later poll with the same error, so reading stops at the
    // first one (reading on until `None` looped forever and filled memory).
    if let Ok(response) = response.await {
        let mut body = response.into_body();
        let mut received = 0;
        let reset = loop {
            match body.data().await {
                Some(Ok(chunk)) => received += chunk.len(),
                Some(Err(_)) => break true,
                None => break false,
            }
        };
        assert!(reset, "HTTP/2 stream ended cleanly after {received} bytes");
    }
    until_logged(&gw, "cut", "short-large-http2").await;
    failures += 1.0;
    // Counted as the failures they were, never as 200.
    eventually(
        "every mismatched response counted as 500",
        DEADLINE,
        || requests(&gw, "cut", "500"),
        |n| *n == failures,
    )
    .await
    .unwrap();
    assert_eq!(requests(&gw, "cut", "200").await, 0.0);
}
