//! The egress guard: guests reach only public addresses (and the hosts their signed grant lists)
//! unless the operator opens a range; a refusal never touches the destination, answers the guest
//! the `wasi:http` / `wasi:sockets` error it expects, and is logged and counted.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wasmgate_claims::SignOptions;
use wasmgate_config::{Capability, HostPattern};
use wasmgate_tests::{Gateway, guests};

crate::covers!(caps_sockets);

/// Opens loopback to guests.
const OPEN_LOOPBACK: &str = "[egress]\nallow = [\"127.0.0.0/8\"]\n";

/// A plain TCP service on 127.0.0.1 standing in for an internal one: it answers any HTTP request
/// (or any line) with `200 internal`, and counts the connections it accepted.
struct Internal {
    port: u16,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Internal {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    // Read the whole request head (or the sockets guest's line) before answering,
                    // so closing leaves nothing unread that would reset the connection.
                    let mut seen = Vec::new();
                    let mut buf = [0; 1024];
                    while !(seen.ends_with(b"\r\n\r\n") || seen.ends_with(b"ping\n")) {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\ninternal")
                        .await;
                });
            }
        });
        Internal {
            port,
            accepted,
            task,
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Internal {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Deploys `wasm` as `name` granted `cap`, with a host list when `hosts` is given.
async fn deploy(gw: &Gateway, name: &str, wasm: &str, cap: Capability, hosts: Option<&[&str]>) {
    let mut allowed_hosts = BTreeMap::new();
    if let Some(hosts) = hosts {
        let hosts: Vec<HostPattern> = hosts.iter().map(|h| h.parse().unwrap()).collect();
        allowed_hosts.insert(cap, hosts);
    }
    let options = SignOptions {
        caps: vec![cap],
        allowed_hosts,
        ..SignOptions::default()
    };
    let signed = gw.sign_with(wasm, name, options).unwrap();
    let response = gw.deploy_bytes(name, signed).await.unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
}

/// Asks the `caps_fetch` guest deployed as `name` to GET `url`; its status and body.
async fn fetch(gw: &Gateway, name: &str, url: &str) -> (u16, String) {
    let response = gw
        .client()
        .get(gw.url(&format!("/fn/{name}?url={url}")))
        .header("x-request-id", format!("req-{name}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Asks the `caps_sockets` guest deployed as `name` to connect to `addr`; its body.
async fn connect(gw: &Gateway, name: &str, addr: &str) -> String {
    let response = gw
        .client()
        .get(gw.url(&format!("/fn/{name}?addr={addr}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

async fn refusals(gw: &Gateway, function: &str, reason: &str) -> f64 {
    gw.counter(
        "wasmgate_egress_refused_total",
        &[("function", function), ("reason", reason)],
    )
    .await
    .unwrap()
}

const PROHIBITED: (u16, &str) = (502, "error: ErrorCode::DestinationIpProhibited");
const DENIED: (u16, &str) = (502, "error: ErrorCode::HttpRequestDenied");

fn answer(got: &(u16, String)) -> (u16, &str) {
    (got.0, got.1.as_str())
}

#[tokio::test]
async fn a_grant_without_a_list_reaches_no_internal_address_by_ip_or_name() {
    let gw = Gateway::builder()
        .capture_logs()
        .arg("--log-format")
        .arg("json")
        .start()
        .await
        .unwrap();
    let internal = Internal::start().await;
    deploy(
        &gw,
        "fetch",
        guests::CAPS_FETCH,
        Capability::HttpOutgoing,
        None,
    )
    .await;
    let port = internal.port;
    let targets = [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::1]:{port}/"),
        // The gateway's own admin API.
        gw.url("/functions"),
        // Cloud metadata: refused before any connection attempt, so no timeout either.
        "http://169.254.169.254/latest/meta-data/".to_owned(),
    ];
    for url in &targets {
        assert_eq!(answer(&fetch(&gw, "fetch", url).await), PROHIBITED, "{url}");
    }
    assert_eq!(
        internal.accepted(),
        0,
        "the internal service saw no connection"
    );
    assert_eq!(refusals(&gw, "fetch", "address_denied").await, 5.0);
    assert_eq!(refusals(&gw, "fetch", "host_not_granted").await, 0.0);

    let lines: Vec<Value> = gw
        .logs()
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["level"] == "WARN" && v["fields"]["reason"] == "address_denied")
        .collect();
    let localhost = lines
        .iter()
        .find(|v| v["fields"]["host"] == "localhost")
        .unwrap_or_else(|| panic!("no refusal logged for localhost: {lines:?}"));
    assert_eq!(localhost["fields"]["function"], "fetch");
    assert_eq!(localhost["fields"]["request_id"], "req-fetch");
    let address = localhost["fields"]["address"].as_str().unwrap();
    assert!(address.ends_with(&format!(":{port}")), "{address}");
}

#[tokio::test]
async fn a_listed_name_is_still_refused_when_it_resolves_to_loopback() {
    let gw = Gateway::builder().start().await.unwrap();
    let internal = Internal::start().await;
    deploy(
        &gw,
        "fetch",
        guests::CAPS_FETCH,
        Capability::HttpOutgoing,
        Some(&["localhost"]),
    )
    .await;
    let url = format!("http://localhost:{}/", internal.port);
    assert_eq!(answer(&fetch(&gw, "fetch", &url).await), PROHIBITED);
    assert_eq!(internal.accepted(), 0);
}

#[tokio::test]
async fn an_opened_range_is_reached_only_by_grants_that_allow_the_host() {
    let gw = Gateway::builder()
        .config_toml(OPEN_LOOPBACK)
        .start()
        .await
        .unwrap();
    let internal = Internal::start().await;
    let port = internal.port;
    deploy(
        &gw,
        "open",
        guests::CAPS_FETCH,
        Capability::HttpOutgoing,
        None,
    )
    .await;
    deploy(
        &gw,
        "listed",
        guests::CAPS_FETCH,
        Capability::HttpOutgoing,
        Some(&["other.example"]),
    )
    .await;

    let got = fetch(&gw, "open", &format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(answer(&got), (200, "200 internal"));
    let got = fetch(&gw, "open", &format!("http://localhost:{port}/")).await;
    assert_eq!(
        answer(&got),
        (200, "200 internal"),
        "127.0.0.1 of localhost is open"
    );
    assert_eq!(internal.accepted(), 2);
    // The rest of the special ranges stay closed.
    let got = fetch(&gw, "open", "http://169.254.169.254/").await;
    assert_eq!(answer(&got), PROHIBITED);

    let got = fetch(&gw, "listed", &format!("http://127.0.0.1:{port}/")).await;
    assert_eq!(
        answer(&got),
        DENIED,
        "not in the list, however open the range"
    );
    assert_eq!(internal.accepted(), 2);
    assert_eq!(refusals(&gw, "listed", "host_not_granted").await, 1.0);
    assert_eq!(refusals(&gw, "open", "address_denied").await, 1.0);
}

#[tokio::test]
async fn sockets_reach_loopback_only_when_it_is_opened_and_listed() {
    let internal = Internal::start().await;
    let addr = format!("127.0.0.1:{}", internal.port);

    let closed = Gateway::builder().start().await.unwrap();
    deploy(
        &closed,
        "tcp",
        guests::CAPS_SOCKETS,
        Capability::Sockets,
        None,
    )
    .await;
    assert_eq!(
        connect(&closed, "tcp", &addr).await,
        "refused: access-denied"
    );
    assert_eq!(internal.accepted(), 0);
    assert_eq!(refusals(&closed, "tcp", "address_denied").await, 1.0);

    let open = Gateway::builder()
        .config_toml(OPEN_LOOPBACK)
        .start()
        .await
        .unwrap();
    deploy(
        &open,
        "tcp",
        guests::CAPS_SOCKETS,
        Capability::Sockets,
        None,
    )
    .await;
    deploy(
        &open,
        "listed",
        guests::CAPS_SOCKETS,
        Capability::Sockets,
        Some(&["10.0.0.0/8"]),
    )
    .await;
    let reply = connect(&open, "tcp", &addr).await;
    assert!(reply.starts_with("connected: HTTP/1.1 200 OK"), "{reply}");
    assert_eq!(internal.accepted(), 1);
    assert_eq!(
        connect(&open, "listed", &addr).await,
        "refused: access-denied"
    );
    assert_eq!(internal.accepted(), 1);
    assert_eq!(refusals(&open, "listed", "host_not_granted").await, 1.0);

    // Without the grant the sockets interfaces are linked and every address is refused, even an
    // opened one.
    let response = open
        .deploy("ungranted", guests::CAPS_SOCKETS)
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["linked_denied"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i.as_str().unwrap().starts_with("wasi:sockets/")),
        "{body}"
    );
    assert_eq!(
        connect(&open, "ungranted", &addr).await,
        "refused: access-denied"
    );
    assert_eq!(internal.accepted(), 1);
    assert_eq!(refusals(&open, "ungranted", "not_granted").await, 1.0);
}

#[test]
fn sign_records_host_lists_and_inspect_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("issuer.pem");
    let signed = dir.path().join("fetch.wasm");
    let run = |args: &[&str]| {
        let output = std::process::Command::new(wasmgate_tests::wasmgate_bin())
            .args(args)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let path = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    assert!(run(&["keys", "generate", "--out", &path(&key)]).0);
    let (ok, text) = run(&[
        "sign",
        "--key",
        &path(&key),
        "--name",
        "fetch",
        "--cap",
        "http-outgoing=api.example.com,*.svc.example.com:8443",
        guests::CAPS_FETCH,
        "-o",
        &path(&signed),
    ]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["inspect", "--json", &path(&signed)]);
    assert!(ok, "{text}");
    let report: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        report["claims"]["wasmgate"]["allowed_hosts"],
        serde_json::json!({"http-outgoing": ["api.example.com", "*.svc.example.com:8443"]})
    );
    let (_, text) = run(&["inspect", &path(&signed)]);
    assert!(
        text.contains("hosts:    http-outgoing: api.example.com, *.svc.example.com:8443"),
        "{text}"
    );

    let (ok, text) = run(&[
        "sign",
        "--key",
        &path(&key),
        "--name",
        "fetch",
        "--cap",
        "sockets=db.internal",
        guests::CAPS_FETCH,
        "-o",
        &path(&signed),
    ]);
    assert!(!ok);
    assert!(
        text.contains("db.internal") && text.contains("CIDR"),
        "{text}"
    );
}
