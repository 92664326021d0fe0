//! The HTTP edge under attack: idle and stalled HTTP/2 connections, clients that never read,
//! control-frame floods and request smuggling through chunked trailers. Each test replays an
//! attack against the real binary and checks the gateway ends it, counts it, and keeps serving.

use crate::DEADLINE;
use crate::client_limits::exchange;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgate_tests::{Gateway, eventually, guests, metric_sample};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Frame types (RFC 9113 §6).
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;

/// GOAWAY error codes (RFC 9113 §7).
const NO_ERROR: u32 = 0x0;
const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One HTTP/2 frame: 9-byte header, then `payload`.
fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = u32::try_from(payload.len()).unwrap();
    let mut out = len.to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A GOAWAY's error code, from the frames a server sent.
#[derive(Default)]
struct FrameReader {
    buf: Vec<u8>,
}

impl FrameReader {
    /// Appends `bytes` and returns each complete frame's type, flags and payload.
    fn push(&mut self, bytes: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
        self.buf.extend_from_slice(bytes);
        let mut frames = Vec::new();
        loop {
            if self.buf.len() < 9 {
                return frames;
            }
            let len = u32::from_be_bytes([0, self.buf[0], self.buf[1], self.buf[2]]) as usize;
            if self.buf.len() < 9 + len {
                return frames;
            }
            let payload = self.buf[9..9 + len].to_vec();
            frames.push((self.buf[3], self.buf[4], payload));
            self.buf.drain(..9 + len);
        }
    }
}

/// Reads frames from `stream` until the server closes it, answering PINGs as a client library
/// does; returns the GOAWAY error codes seen.
async fn read_until_close(stream: &mut tokio::net::tcp::OwnedReadHalf) -> Vec<u32> {
    let mut reader = FrameReader::default();
    let mut goaways = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return goaways,
            Ok(n) => n,
        };
        for (kind, _, payload) in reader.push(&buf[..n]) {
            if kind == GOAWAY && payload.len() >= 8 {
                goaways.push(u32::from_be_bytes([
                    payload[4], payload[5], payload[6], payload[7],
                ]));
            }
        }
    }
}

/// `wasmgate_connections_closed_total`: how served connections ended, by `reason`.
const CLOSED: &str = "wasmgate_connections_closed_total";

/// `wasmgate_http2_streams_reset_total`: response streams the gateway reset, by `reason`.
const RESET: &str = "wasmgate_http2_streams_reset_total";

/// Waits until counter `family{reason}` reaches `n` (a connection's end or a stream's reset
/// is counted just after the client sees it).
async fn until_counted(gw: &Gateway, family: &str, reason: &str, n: f64) {
    let what = format!("{family}{{reason={reason:?}}} at {n}");
    let count = || async { gw.counter(family, &[("reason", reason)]).await.unwrap() };
    eventually(&what, DEADLINE, count, |seen| *seen >= n)
        .await
        .unwrap();
}

/// Waits until `GET path` on a fresh client answers 200.
async fn until_served(gw: &Gateway, path: &str, what: &str) {
    let status = || async {
        let response = reqwest::Client::new().get(gw.url(path)).send().await;
        response.map(|r| r.status().as_u16()).ok()
    };
    eventually(what, DEADLINE, status, |status| *status == Some(200))
        .await
        .unwrap();
}

/// An HTTP/2 client (the `h2` crate) with its connection driven in the background; the
/// returned handle resolves when the server ends the connection.
async fn h2_client(
    gw: &Gateway,
    builder: &h2::client::Builder,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = TcpStream::connect(gw.addr()).await.unwrap();
    let (send, connection) = builder.handshake(tcp).await.unwrap();
    (send, tokio::spawn(connection))
}

/// An HTTP/2 client the gateway has served a `/healthz` on, so it surely holds a connection slot;
/// retried while a slot is still held by a connection the harness closed (its `/readyz` probe).
/// A refused client would otherwise read the raw HTTP/1.1 503 as a frame header and fail later
/// with `FRAME_SIZE_ERROR`.
async fn served_h2_client(
    gw: &Gateway,
) -> (
    h2::client::SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let started = tokio::time::Instant::now();
    loop {
        let (mut send, connection) = h2_client(gw, &h2::client::Builder::new()).await;
        let request = http::Request::get(gw.url("/healthz")).body(()).unwrap();
        let served = match send.send_request(request, true) {
            Ok((response, _)) => matches!(response.await, Ok(r) if r.status() == 200),
            Err(_) => false,
        };
        if served {
            return (send, connection);
        }
        assert!(
            started.elapsed() < DEADLINE,
            "no HTTP/2 connection slot came free"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_idle_http2_connection_is_closed_with_goaway_after_the_idle_timeout() {
    let gw = Gateway::builder()
        .config_toml("[http]\nheader_read_timeout = \"1s\"\n")
        .start()
        .await
        .unwrap();
    // A client that opens a connection, sends its SETTINGS and then nothing: not even the
    // PING answer a graceful close waits for.
    let tcp = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    write.write_all(PREFACE).await.unwrap();
    write.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    let goaways = tokio::time::timeout(DEADLINE, read_until_close(&mut read))
        .await
        .expect("the idle connection should be closed");
    assert_eq!(goaways.first(), Some(&NO_ERROR), "{goaways:?}");
    until_counted(&gw, CLOSED, "idle", 1.0).await;

    // A connection that served a request is idle from the end of that request on.
    let (mut send, connection) = h2_client(&gw, &h2::client::Builder::new()).await;
    let request = http::Request::get(gw.url("/healthz")).body(()).unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    tokio::time::timeout(DEADLINE, connection)
        .await
        .expect("the connection should close once idle")
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn twenty_idle_http2_clients_no_longer_lock_out_a_new_client_once_the_idle_timeout_passes() {
    let gw = Gateway::builder()
        .config_toml("[http]\nmax_connections = 20\nheader_read_timeout = \"5s\"\n")
        .start()
        .await
        .unwrap();
    // The idle timeout leaves time to open all twenty on a loaded machine before the first
    // of them is closed; each is idle from the end of its one request.
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(served_h2_client(&gw).await);
    }
    // Every slot is taken: a new client is refused now.
    let refused = reqwest::Client::new()
        .get(gw.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    // Once the idle timeout passes, the idle clients are closed and a new client is served.
    until_served(&gw, "/healthz", "a new client is served").await;
    for (_, connection) in held {
        tokio::time::timeout(DEADLINE, connection)
            .await
            .expect("each idle connection should be closed")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn a_window_zero_readers_streams_are_reset_when_their_guest_stops() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw
        .deploy_with_manifest("stream", guests::HTTP_STREAM, "[limits]\ntimeout = \"2s\"")
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // The reader never opens its window: no DATA can ever be sent to it.
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(0);
    let (mut send, _connection) = h2_client(&gw, &builder).await;
    let mut bodies = Vec::new();
    for _ in 0..10 {
        let request = http::Request::get(gw.url("/fn/stream?chunks=1000000"))
            .body(())
            .unwrap();
        let (response, _) = send.send_request(request, true).unwrap();
        bodies.push(tokio::spawn(async move {
            let mut body = response.await.unwrap().into_body();
            // The first poll waits for DATA that cannot come, then sees the reset.
            match body.data().await {
                Some(Err(e)) => e.reason(),
                other => panic!("expected a reset, got {other:?}"),
            }
        }));
    }
    for body in bodies {
        let reason = tokio::time::timeout(DEADLINE, body)
            .await
            .expect("the stream should be reset once its guest is stopped")
            .unwrap();
        assert_eq!(reason, Some(h2::Reason::INTERNAL_ERROR));
    }
    until_counted(&gw, RESET, "guest_failed", 10.0).await;
}

#[tokio::test]
async fn a_stream_whose_window_stays_shut_is_reset_after_the_write_timeout() {
    let gw = Gateway::builder()
        .config_toml("[http]\nwrite_timeout = \"1s\"\n")
        .start()
        .await
        .unwrap();
    // A guest that finishes at once: only the window keeps its body from leaving.
    let response = gw.deploy("stream", guests::HTTP_STREAM).await.unwrap();
    assert_eq!(response.status(), 201);
    let mut builder = h2::client::Builder::new();
    builder.initial_window_size(0);
    let (mut send, _connection) = h2_client(&gw, &builder).await;
    let request = http::Request::get(gw.url("/fn/stream?chunks=3"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let mut body = response.await.unwrap().into_body();
    let reset = tokio::time::timeout(DEADLINE, body.data())
        .await
        .expect("the stalled stream should be reset");
    match reset {
        Some(Err(e)) => assert_eq!(e.reason(), Some(h2::Reason::CANCEL)),
        other => panic!("expected a reset, got {other:?}"),
    }
    until_counted(&gw, RESET, "write_timeout", 1.0).await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_dropped_after_the_write_deadline() {
    // Scrapes on the metrics listener hold no place in `wasmgate_connections_open`, so the
    // gauge can be read at exactly zero.
    let gw = Gateway::builder()
        .config_toml("[http]\nwrite_timeout = \"1s\"\n")
        .arg("--metrics-listen")
        .arg("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let response = gw.deploy("stream", guests::HTTP_STREAM).await.unwrap();
    assert_eq!(response.status(), 201);
    // HTTP/1.1: asks for ~32 MB in 4 KB lines (few guest steps, so the buffers fill fast)
    // and reads nothing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(gw.addr().parse().unwrap()).await.unwrap();
    stalled
        .write_all(b"GET /fn/stream?chunks=8000&pad=4000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    until_counted(&gw, CLOSED, "write_timeout", 1.0).await;
    // HTTP/2, with open windows, reading nothing from its socket.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(gw.addr().parse().unwrap()).await.unwrap();
    let (read, mut write) = tcp.into_split();
    write.write_all(PREFACE).await.unwrap();
    // SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 2^31-1, and the connection window opened as far.
    let mut settings = vec![0, 4];
    settings.extend_from_slice(&0x7fff_ffffu32.to_be_bytes());
    write
        .write_all(&frame(SETTINGS, 0, 0, &settings))
        .await
        .unwrap();
    write
        .write_all(&frame(0x8, 0, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()))
        .await
        .unwrap();
    // HEADERS for GET /fn/stream?chunks=8000&pad=4000, HPACK literals without indexing (RFC 7541 §6.2.2).
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http
    block.push(0x04); // :path, literal
    let path = b"/fn/stream?chunks=8000&pad=4000";
    block.push(u8::try_from(path.len()).unwrap());
    block.extend_from_slice(path);
    block.push(0x01); // :authority, literal
    block.push(1);
    block.push(b'x');
    write.write_all(&frame(0x1, 0x5, 1, &block)).await.unwrap();
    until_counted(&gw, CLOSED, "write_timeout", 2.0).await;
    // Both connections are gone from the gateway, and so is the harness's pooled one once idle.
    let scrapes = gw
        .startup_lines()
        .iter()
        .find_map(|l| l.strip_prefix("wasmgate metrics on "))
        .unwrap_or_else(|| panic!("no metrics listener line in {:?}", gw.startup_lines()))
        .to_owned();
    let scraper = reqwest::Client::new();
    eventually(
        "connection slots given back",
        DEADLINE,
        || async {
            let text = match scraper.get(&scrapes).send().await {
                Ok(response) => response.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            metric_sample(&text, "wasmgate_connections_open", &[])
        },
        |open| *open == Some(0.0),
    )
    .await
    .unwrap();
    drop((stalled, read));
}

/// Floods one connection with `flood` frames, reading what comes back so every ACK flows;
/// returns the GOAWAY codes the server sent before closing.
async fn flood(gw: &Gateway, flood: Vec<u8>) -> Vec<u32> {
    let tcp = TcpStream::connect(gw.addr()).await.unwrap();
    let (mut read, mut write) = tcp.into_split();
    write.write_all(PREFACE).await.unwrap();
    write.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
    let batch: Vec<u8> = flood.repeat(1_000);
    let writer = tokio::spawn(async move {
        // Far more than any budget: the server must close the connection long before.
        for _ in 0..10_000 {
            if write.write_all(&batch).await.is_err() {
                return;
            }
        }
        panic!("10 million control frames were taken without the connection being closed");
    });
    let goaways = tokio::time::timeout(DEADLINE, read_until_close(&mut read))
        .await
        .expect("the flooding connection should be closed");
    writer.abort();
    goaways
}

#[tokio::test]
async fn settings_and_ping_floods_are_closed_with_enhance_your_calm() {
    let gw = Gateway::builder().start().await.unwrap();
    let goaways = flood(&gw, frame(SETTINGS, 0, 0, &[])).await;
    assert_eq!(goaways, vec![ENHANCE_YOUR_CALM]);
    let goaways = flood(&gw, frame(PING, 0, 0, &[0; 8])).await;
    assert_eq!(goaways, vec![ENHANCE_YOUR_CALM]);
    until_counted(&gw, CLOSED, "control_frame_flood", 2.0).await;
    // The node still serves everyone else.
    let (mut send, _connection) = h2_client(&gw, &h2::client::Builder::new()).await;
    let request = http::Request::get(gw.url("/healthz")).body(()).unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
}

/// The exact bytes from the issue: a chunked POST whose trailer line ends in a bare LF, then a
/// pipelined POST whose 36-byte body is itself a request.
const TRAILER_SMUGGLE: &[u8] = b"POST /fn/hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: y\n\r\n\
POST /fn/hello HTTP/1.1\r\nHost: x\r\nContent-Length: 36\r\n\r\nGET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n";

#[tokio::test]
async fn a_bare_lf_in_a_chunked_trailer_is_refused_and_the_pipelined_requests_never_run() {
    let gw = Gateway::builder().capture_logs().start().await.unwrap();
    let response = gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(response.status(), 201);

    let seen = exchange(&gw, TRAILER_SMUGGLE).await;
    // hello answers the first request before its trailer is read; nothing after the bare LF is
    // ever parsed: no second answer, no 404 for the smuggled `/fn/hidden`.
    assert_eq!(seen.matches("HTTP/1.1 ").count(), 1, "{seen}");
    assert!(!seen.contains("404") && !seen.contains("hidden"), "{seen}");
    until_counted(&gw, CLOSED, "request_framing", 1.0).await;

    // A handler that reads the whole body first answers the same bytes with 400.
    let token = gw.admin_token().unwrap().unwrap();
    let publish = format!(
        "POST /publish/orders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nX: y\n\r\n\
GET /fn/hidden HTTP/1.1\r\nHost: x\r\n\r\n"
    );
    let seen = exchange(&gw, publish.as_bytes()).await;
    assert!(seen.starts_with("HTTP/1.1 400 "), "{seen}");
    assert_eq!(seen.matches("HTTP/1.1 ").count(), 1, "{seen}");
    assert!(
        !gw.logs().iter().any(|l| l.contains("hidden")),
        "the smuggled request must never reach the router"
    );
}

#[tokio::test]
async fn connections_ended_for_protocol_errors_are_counted_and_logged_at_a_bounded_rate() {
    let gw = Gateway::builder().capture_logs().start().await.unwrap();
    // 200 connections, each sending a frame h2 refuses (a DATA frame on stream 0 is a
    // connection error, RFC 9113 §6.1).
    for _ in 0..200 {
        let mut tcp = TcpStream::connect(gw.addr()).await.unwrap();
        tcp.write_all(PREFACE).await.unwrap();
        tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        tcp.write_all(&frame(0x0, 0, 0, b"x")).await.unwrap();
        let mut sink = Vec::new();
        let _ = tokio::time::timeout(DEADLINE, tcp.read_to_end(&mut sink)).await;
    }
    until_counted(&gw, CLOSED, "protocol_error", 200.0).await;
    let lines = gw.logs().iter().filter(|l| l.contains("WARN")).count();
    assert!(lines <= 40, "{lines} warn lines for 200 bad connections");
}

#[tokio::test]
async fn a_connection_past_its_maximum_age_is_asked_to_close_after_its_requests() {
    let gw = Gateway::builder()
        .config_toml("[http]\nmax_connection_age = \"1s\"\nheader_read_timeout = \"60s\"\n")
        .start()
        .await
        .unwrap();
    // HTTP/2: a busy client is sent GOAWAY once the connection is a second old.
    let (mut send, connection) = h2_client(&gw, &h2::client::Builder::new()).await;
    let request = http::Request::get(gw.url("/healthz")).body(()).unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    assert_eq!(response.await.unwrap().status(), 200);
    tokio::time::timeout(DEADLINE, connection)
        .await
        .expect("the old connection should be closed long before the idle timeout")
        .unwrap()
        .unwrap();
    // HTTP/1.1: a keep-alive connection is closed once it is older than the limit.
    let seen = exchange(&gw, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    until_counted(&gw, CLOSED, "max_age", 2.0).await;
}

#[tokio::test]
async fn a_call_whose_client_resets_its_stream_is_stopped_and_frees_its_slot() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw
        .deploy_with_manifest(
            "slow",
            guests::HTTP_SLOW,
            "[scale]\nmax_concurrency = 1\n[limits]\ntimeout = \"90s\"",
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // HTTP/2: a call that would hold the only slot for a minute, reset right away.
    let (mut send, _connection) = h2_client(&gw, &h2::client::Builder::new()).await;
    let request = http::Request::get(gw.url("/fn/slow?ms=60000"))
        .body(())
        .unwrap();
    let (pending, mut stream) = send.send_request(request, true).unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    stream.send_reset(h2::Reason::CANCEL);
    drop(pending);
    // HTTP/1.1: a client that closes its connection while waiting.
    let mut tcp = TcpStream::connect(gw.addr()).await.unwrap();
    // The reset call may still hold the slot for a moment: wait until this one is admitted.
    until_served(&gw, "/fn/slow?ms=1", "the slot is free again").await;
    tcp.write_all(b"GET /fn/slow?ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(tcp);
    until_served(
        &gw,
        "/fn/slow?ms=1",
        "the slot is free once the client left",
    )
    .await;
}

#[tokio::test]
async fn an_http2_body_longer_than_its_content_length_is_reset() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw.deploy("bigbody", guests::LIMITS_BIGBODY).await.unwrap();
    assert_eq!(response.status(), 201);
    let (mut send, _connection) = h2_client(&gw, &h2::client::Builder::new()).await;
    // A small declared body leaves with its head only once finished: the overrun is a 500.
    let request = http::Request::get(gw.url("/fn/bigbody?declare=10"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 500);
    // A larger one streams from its head: the overrun resets the stream.
    let declared = 100_000;
    let request = http::Request::get(gw.url(&format!("/fn/bigbody?declare={declared}")))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    // The reset may follow the headers so closely that the client reports it for the response.
    let response = match response.await {
        Ok(response) => response,
        Err(e) => {
            assert_eq!(e.reason(), Some(h2::Reason::INTERNAL_ERROR));
            until_counted(&gw, RESET, "length_mismatch", 1.0).await;
            return;
        }
    };
    assert_eq!(response.headers()["content-length"], "100000");
    let mut body = response.into_body();
    let mut received = 0;
    let reason = loop {
        match tokio::time::timeout(DEADLINE, body.data())
            .await
            .expect("the body should end")
        {
            Some(Ok(data)) => {
                received += data.len();
                let _ = body.flow_control().release_capacity(data.len());
            }
            Some(Err(e)) => break e.reason(),
            None => panic!("the stream ended cleanly after {received} bytes"),
        }
    };
    assert_eq!(reason, Some(h2::Reason::INTERNAL_ERROR));
    assert!(
        received <= declared,
        "{received} bytes for a content-length of {declared}"
    );
    until_counted(&gw, RESET, "length_mismatch", 1.0).await;
}

#[tokio::test]
async fn sigterm_exits_even_with_a_guest_still_spinning_past_the_grace_period() {
    let mut gw = Gateway::builder()
        .config_toml("shutdown_grace = \"1s\"\n")
        .start()
        .await
        .unwrap();
    let response = gw
        .deploy_with_manifest("spin", guests::LIMITS_LOOP, "[limits]\ntimeout = \"120s\"")
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // The caller keeps waiting: the call is in flight when the grace period ends.
    let mut tcp = TcpStream::connect(gw.addr()).await.unwrap();
    tcp.write_all(b"GET /fn/spin HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let status = gw.terminate().await.unwrap();
    assert!(status.code().is_some(), "exited by itself: {status:?}");
    drop(tcp);
}
