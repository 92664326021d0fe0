//! Per-client limits (`[http]`): silent, slow and oversized clients are cut off with the right
//! answer, and the node keeps serving everyone else.

use crate::{DEADLINE, error_code};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgate_tests::{Gateway, guests, metric_sample};

const SHORT_TIMEOUTS: &str = "[http]\nheader_read_timeout = \"1s\"\nbody_read_timeout = \"1s\"\n";

/// Reads until the server closes the connection (or `DEADLINE`), returning what it sent.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let _ = tokio::time::timeout(DEADLINE, stream.read_to_end(&mut seen))
        .await
        .expect("the server should close the connection");
    String::from_utf8_lossy(&seen).into_owned()
}

/// Sends `request` on a new connection and returns the status line and everything after it.
pub(crate) async fn exchange(gw: &Gateway, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    read_to_close(&mut stream).await
}

async fn refused(gw: &Gateway, reason: &str) -> f64 {
    gw.counter("wasmgate_connections_refused_total", &[("reason", reason)])
        .await
        .unwrap()
}

#[tokio::test]
async fn silent_slow_and_idle_connections_are_closed_after_the_header_timeout() {
    let gw = Gateway::builder()
        .config_toml(SHORT_TIMEOUTS)
        .start()
        .await
        .unwrap();

    // Connects and sends nothing at all.
    let mut silent = TcpStream::connect(gw.addr()).await.unwrap();
    assert_eq!(read_to_close(&mut silent).await, "");
    assert_eq!(refused(&gw, "header_timeout").await, 1.0);

    // Slowloris: a header line every 200ms, never finishing the head.
    let mut slow = TcpStream::connect(gw.addr()).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let trickle = async {
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow
                .write_all(format!("X-Slow-{i}: y\r\n").as_bytes())
                .await
                .is_err()
            {
                return i;
            }
        }
        unreachable!()
    };
    let lines = tokio::time::timeout(DEADLINE, trickle)
        .await
        .expect("the trickling client should be cut off");
    assert!(lines < 40, "cut off only after {lines} lines");

    // Keep-alive: one request answered, then the idle connection is closed.
    let mut idle = TcpStream::connect(gw.addr()).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_to_close(&mut idle).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // Meanwhile and after, ordinary requests are served.
    let health = gw.client().get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn oversized_request_heads_get_431_with_the_limit_named() {
    let gw = Gateway::builder().start().await.unwrap();
    // The gateway's 431 keeps the connection open (the head was read whole): ask it to close.
    let long_line = format!(
        "GET /fn/{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    let long_header = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: {}\r\n\r\n",
        "b".repeat(20_000)
    );
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    for (what, request, code, named) in [
        ("request line", long_line, "header_too_large", "20049 bytes"),
        (
            "header value",
            long_header,
            "header_too_large",
            "20062 bytes",
        ),
        (
            "header count",
            many_headers,
            "too_many_headers",
            "152 header fields",
        ),
    ] {
        let answer = exchange(&gw, request.as_bytes()).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        assert!(head.starts_with("HTTP/1.1 431"), "{what}: {head}");
        let body: serde_json::Value =
            serde_json::from_str(body).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{what}: {message}");
        assert!(message.contains("http.max_header"), "{what}: {message}");
    }

    // Far past the limit (more than twice it) hyper refuses the head before the gateway sees
    // it: still 431, but with hyper's empty body.
    let huge = format!("GET /fn/{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(40_000));
    let answer = exchange(&gw, huge.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");

    let health = gw.client().get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

/// Opens a connection that holds one of the gateway's connection slots: a keep-alive request is
/// answered 200 on it (so the gateway counts it) and it stays open, idle, until dropped. `None`
/// when the gateway refused it (a slot was still held by a connection closing, such as the
/// harness's pooled readiness probe).
async fn held_connection(gw: &Gateway) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    let read_answer = async {
        // The answer's head and its short JSON body, or the server's close.
        while !seen.ends_with(b"}") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(DEADLINE, read_answer)
        .await
        .expect("the gateway answers a held connection's request");
    seen.starts_with(b"HTTP/1.1 200").then_some(stream)
}

/// `wasmgate_connections_refused_total{reason="limit"}`, scraped on a connection of its own
/// (`Connection: close`, so no pooled connection holds a slot afterwards); `None` while the
/// scrape itself is refused.
async fn refused_for_the_limit(gw: &Gateway) -> Option<f64> {
    let authorization = match gw.admin_token().unwrap() {
        Some(token) => format!("Authorization: Bearer {token}\r\n"),
        None => String::new(),
    };
    let request =
        format!("GET /metrics HTTP/1.1\r\nHost: x\r\n{authorization}Connection: close\r\n\r\n");
    let answer = exchange(gw, request.as_bytes()).await;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    Some(
        metric_sample(
            body,
            "wasmgate_connections_refused_total",
            &[("reason", "limit")],
        )
        .unwrap_or(0.0),
    )
}

#[tokio::test]
async fn connections_past_the_limit_get_503_with_retry_after_and_a_json_body() {
    let gw = Gateway::builder()
        // The held connections must outlive the whole test, so their idle (header) timeout is
        // longer than it: with the 10 s default a loaded machine saw them closed (and their
        // slots free again) before the fourth connection was tried.
        .config_toml("[http]\nmax_connections = 3\nheader_read_timeout = \"120s\"\n")
        .start()
        .await
        .unwrap();
    // Three connections that were each answered, so each provably holds a slot. One the gateway
    // refuses (the harness's readiness probe may still hold a slot while its pool closes it) is
    // replaced until three are held.
    let mut held = Vec::new();
    let until = tokio::time::Instant::now() + DEADLINE;
    while held.len() < 3 {
        assert!(
            tokio::time::Instant::now() < until,
            "three connections were not held within {DEADLINE:?}"
        );
        match held_connection(&gw).await {
            Some(stream) => held.push(stream),
            None => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    // With three slots held, a fourth connection is refused at once.
    let answer = exchange(
        &gw,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(head.contains("retry-after: 1"), "{head}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["error"]["code"], "too_many_connections");

    // One connection freed, one more served, and the refusals counted.
    held.pop();
    let counted = wasmgate_tests::eventually(
        "a freed slot serves the scrape, which counts the refusal",
        DEADLINE,
        || refused_for_the_limit(&gw),
        Option::is_some,
    )
    .await
    .unwrap();
    assert!(counted.is_some_and(|refused| refused >= 1.0), "{counted:?}");
    drop(held);
}

#[tokio::test]
async fn a_function_body_over_the_limit_is_refused_before_or_while_the_guest_reads_it() {
    let gw = Gateway::builder()
        .config_toml("[http]\nmax_request_body = \"64KiB\"\n")
        .start()
        .await
        .unwrap();
    gw.deploy("echo", guests::HTTP_ECHO).await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();

    // Announced too long: 413 before the guest runs.
    let too_long = gw
        .client()
        .post(gw.url("/fn/echo"))
        .body(vec![b'x'; 65 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(
        error_code(too_long).await,
        (413, "payload_too_large".into())
    );

    // Streamed without a length: the guest's read fails at the limit.
    let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 4096]));
    let streamed = gw
        .client()
        .post(gw.url("/fn/echo"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await;
    // The echo guest reports how much of the body it could read.
    let read = streamed.unwrap().headers()["x-body-len"]
        .to_str()
        .unwrap()
        .parse::<usize>()
        .unwrap();
    assert!(read <= 64 * 1024, "the guest read {read} bytes");

    // At the limit it passes whole.
    let exact = gw
        .client()
        .post(gw.url("/fn/echo"))
        .body(vec![b'z'; 64 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(exact.status(), 200);
    assert_eq!(exact.headers()["x-body-len"], "65536");
    let hello = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(hello.status(), 200);
}

#[tokio::test]
async fn a_deploy_or_publish_body_that_stalls_gets_408_and_changes_nothing() {
    let gw = Gateway::builder()
        .config_toml(SHORT_TIMEOUTS)
        .start()
        .await
        .unwrap();
    for path in ["/functions/stalled", "/publish/orders.new"] {
        let method = if path.starts_with("/functions") {
            "PUT"
        } else {
            "POST"
        };
        let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
        let token = gw.admin_token().unwrap().unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/wasm\r\nContent-Length: 1000\r\n\r\n0123456789"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let answer = read_to_close(&mut stream).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 408"), "{path}: {answer}");
        let body: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
        assert_eq!(body["error"]["code"], "body_timeout", "{path}");
    }
    let functions = gw.functions().await.unwrap();
    assert!(functions.is_empty(), "{functions:?}");
}
