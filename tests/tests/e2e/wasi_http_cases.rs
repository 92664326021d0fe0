//! What wasmtime's own wasi:http tests exercise, through the `http_wasi_cases` guest: a 16 MiB
//! body echoed as it streams, a request forwarded to an upstream (a local server opened by
//! `[egress] allow`), trailers both ways, the forbidden headers, and a guest that returns
//! without a response or traps before or after its head. Each test states what the reference
//! host (`wasmtime serve -Scli`) answers; `scripts/conformance-compare` checks that live.

use crate::{covers, error_code};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

covers!(http_wasi_cases);

/// A gateway that lets guests reach loopback, with the guest deployed as `cases` and granted
/// `http-outgoing`.
async fn gateway() -> Gateway {
    let gw = Gateway::builder()
        .config_toml("[egress]\nallow = [\"127.0.0.0/8\"]\n")
        .start()
        .await
        .unwrap();
    let signed = gw
        .sign(
            guests::HTTP_WASI_CASES,
            "cases",
            &[Capability::HttpOutgoing],
        )
        .unwrap();
    let response = gw.deploy_bytes("cases", signed).await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    gw
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn a_16_mib_body_is_echoed_as_it_streams() {
    // Reference: 200 and the same 16 MiB.
    let gw = gateway().await;
    let body = pattern(16 << 20);
    let response = gw
        .client()
        .post(gw.url("/fn/cases/stream-echo"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let echoed = response.bytes().await.unwrap();
    assert_eq!(echoed.len(), body.len());
    assert!(
        echoed[..] == body[..],
        "the echo differs from what was sent"
    );
}

#[tokio::test]
async fn a_request_is_forwarded_to_an_upstream_and_its_answer_streams_back() {
    // Reference: 200 and the upstream's answer, which saw the method, path, body and x- headers.
    let gw = gateway().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: hyper::Request<hyper::body::Incoming>| async {
                    let head = format!(
                        "{} {} x-pass={:?} ",
                        request.method(),
                        request.uri(),
                        request.headers().get("x-pass")
                    );
                    let body = request.into_body().collect().await?.to_bytes();
                    let answer = [head.as_bytes(), &body[..]].concat();
                    Ok::<_, hyper::Error>(
                        hyper::Response::builder()
                            .header("x-upstream-saw", "yes")
                            .body(Full::new(Bytes::from(answer)))
                            .unwrap(),
                    )
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let response = gw
        .client()
        .post(gw.url("/fn/cases/forward"))
        .header("x-upstream", format!("http://127.0.0.1:{port}/up?q=1"))
        .header("x-pass", "along")
        .body("to the upstream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-upstream-saw"], "yes");
    assert_eq!(
        response.text().await.unwrap(),
        "POST /up?q=1 x-pass=Some(\"along\") to the upstream"
    );
}

#[tokio::test]
async fn response_trailers_reach_the_client() {
    // Reference: 200, the body, and the trailer x-trailer: done; the request's trailer does
    // not reach the guest there either (its incoming body's trailers are none over HTTP/1.1).
    let gw = gateway().await;
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    stream
        .write_all(
            b"POST /fn/cases/trailers HTTP/1.1\r\nhost: x\r\nte: trailers\r\nconnection: close\r\n\
              transfer-encoding: chunked\r\ntrailer: x-req-trailer\r\n\r\n\
              5\r\nhello\r\n0\r\nx-req-trailer: r1\r\n\r\n",
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 200"), "{answer}");
    assert!(answer.contains("\r\n5\r\nhello\r\n"), "{answer}");
    let trailers = answer.rsplit_once("\r\n0\r\n").map_or("", |(_, t)| t);
    assert!(
        !trailers.contains("x-req-trailer"),
        "as the reference: {answer}"
    );
    assert!(trailers.contains("x-trailer: done\r\n"), "{answer}");
}

#[tokio::test]
async fn every_forbidden_header_is_refused_with_the_wit_forbidden_error() {
    // Reference: each line `NAME: forbidden` (set, append and from-list alike).
    let gw = gateway().await;
    let report = gw.get_text("/fn/cases/forbidden").await.unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert_eq!(lines.len(), 9, "{report}");
    for line in lines {
        assert!(line.ends_with(": forbidden"), "{line} (all: {report})");
    }
}

#[tokio::test]
async fn no_response_or_a_trap_before_one_is_a_500() {
    // Reference: 500 with an empty body for both; wasmgate's is a JSON error (README,
    // Conformance), so the code is asserted here.
    let gw = gateway().await;
    for (path, code) in [
        ("/fn/cases/no-response", "guest_error"),
        ("/fn/cases/trap-before", "guest_trap"),
    ] {
        let response = gw.client().get(gw.url(path)).send().await.unwrap();
        assert_eq!(error_code(response).await, (500, code.to_owned()), "{path}");
    }
}

#[tokio::test]
async fn a_trap_after_the_head_reaches_the_client_as_an_error() {
    // Reference: 200 head, then the connection ends mid-body (no final chunk).
    let gw = gateway().await;
    let response = gw
        .client()
        .get(gw.url("/fn/cases/trap-after"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.bytes().await.is_err(),
        "a cut body must not look complete"
    );
}
