//! CloudEvents interoperate (issue 19): events produced by the official Python SDK over HTTP
//! (`POST /publish/{subject}`, binary and structured mode) and over NATS (protobuf and JSON
//! structured mode) reach a guest as the same metadata on every bus, invalid ones are refused or
//! dead-lettered, and what the gateway puts on NATS decodes with the SDK and the schema.
//!
//! The `caps_events` guest deployed as `sink` records what it received under `record/{topic}`.

mod http;
mod nats;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wasmgate_tests::{Gateway, NatsServer, cloudevents_client};

use crate::events::deploy;

/// Retries are configured, so an immediate dead letter is told apart from an exhausted one.
const EVENTS: &str = "[events]\nmax_attempts = 3\nbackoff = \"20ms\"\n";

/// The function every case publishes to, on subjects under `ce.`.
const SINK: &str = "[[triggers]]\nsubject = \"ce.>\"\n";

/// A gateway on one bus with `sink` deployed, and the NATS server behind it if any.
struct Bus {
    gw: Gateway,
    nats: Option<NatsServer>,
}

impl Bus {
    async fn embedded() -> Bus {
        let gw = Gateway::builder()
            .config_toml(EVENTS)
            .start()
            .await
            .unwrap();
        deploy(&gw, "sink", SINK).await;
        Bus { gw, nats: None }
    }

    /// A gateway on a real NATS server, with `messaging` appended to its `[messaging]` table.
    async fn nats_with(messaging: &str) -> Bus {
        let nats = NatsServer::start().await.unwrap();
        let config = format!(
            "{EVENTS}[messaging]\nbackend = \"nats\"\nurl = \"{}\"\n{messaging}",
            nats.url()
        );
        let gw = Gateway::builder()
            .config_toml(&config)
            .start()
            .await
            .unwrap();
        deploy(&gw, "sink", SINK).await;
        Bus {
            gw,
            nats: Some(nats),
        }
    }

    async fn nats() -> Bus {
        Bus::nats_with("").await
    }

    fn nats_url(&self) -> String {
        self.nats.as_ref().expect("a NATS bus").url()
    }
}

/// What the guest received, parsed from its `record/{topic}` value.
#[derive(Debug)]
struct Record {
    content_type: Option<String>,
    metadata: Vec<(String, String)>,
    data: Vec<u8>,
}

impl Record {
    /// `content-type: X` (`-` for none), `key: value` lines, a blank line, the data.
    fn parse(bytes: &[u8]) -> Record {
        let split = bytes
            .windows(2)
            .position(|w| w == b"\n\n")
            .expect("a record has a blank line before the data");
        let head = std::str::from_utf8(&bytes[..split]).expect("a UTF-8 record head");
        let mut lines = head.lines();
        let content_type = lines
            .next()
            .and_then(|l| l.strip_prefix("content-type: "))
            .expect("a record starts with content-type");
        let metadata = lines
            .map(|line| {
                let (k, v) = line.split_once(": ").expect("key: value");
                (k.to_owned(), v.to_owned())
            })
            .collect();
        Record {
            content_type: (content_type != "-").then(|| content_type.to_owned()),
            metadata,
            data: bytes[split + 2..].to_vec(),
        }
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.data).into_owned()
    }

    /// Asserts the CloudEvents metadata is exactly `expected`, in that order, ahead of any other.
    fn assert_attributes(&self, case: &str, expected: &[(&str, &str)]) {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let ce: Vec<(String, String)> = self
            .metadata
            .iter()
            .filter(|(k, _)| k.starts_with("ce-"))
            .cloned()
            .collect();
        assert_eq!(ce, expected, "{case}: the ce-* metadata the guest saw");
        assert_eq!(
            &self.metadata[..expected.len()],
            &expected[..],
            "{case}: CloudEvents attributes come before other metadata"
        );
    }
}

/// What `function` recorded for `topic`, once it has one that `accept` takes.
async fn received_where(
    gw: &Gateway,
    function: &str,
    topic: &str,
    accept: impl Fn(&Record) -> bool,
) -> Record {
    let url = gw.url(&format!("/fn/{function}/record/{topic}"));
    let (_, body) = wasmgate_tests::eventually(
        &format!("{function} received a message on {topic}"),
        crate::DEADLINE,
        || {
            let (client, url) = (gw.client().clone(), url.clone());
            async move {
                let response = client.get(url).send().await.unwrap();
                (response.status().as_u16(), response.bytes().await.unwrap())
            }
        },
        |(status, body)| *status == 200 && accept(&Record::parse(body)),
    )
    .await
    .unwrap();
    Record::parse(&body)
}

/// What `sink` recorded for `topic`, once it has.
async fn received(gw: &Gateway, topic: &str) -> Record {
    received_where(gw, "sink", topic, |_| true).await
}

/// How many deliveries on `topic` reached `function`'s handler.
async fn deliveries(gw: &Gateway, function: &str, topic: &str) -> String {
    gw.get_text(&format!("/fn/{function}/count/{topic}"))
        .await
        .unwrap()
}

/// Runs a `client.py` HTTP subcommand (`http-binary`, `http-structured`) against `gw`:
/// `{status, body, sent_headers, sent_body_b64}`.
async fn sdk_http(gw: &Gateway, mode: &str, subject: &str, event: &Value, extra: &[&str]) -> Value {
    let token = gw.admin_token().unwrap().unwrap_or_default();
    let event = event.to_string();
    let url = gw.url("");
    let mut args = vec![
        mode,
        "--url",
        &url,
        "--token",
        &token,
        "--subject",
        subject,
        "--event",
        &event,
    ];
    args.extend_from_slice(extra);
    cloudevents_client(&args).await.unwrap()
}

/// The bytes of a base64 field of the client's output.
fn base64_field(value: &Value) -> Vec<u8> {
    BASE64
        .decode(value.as_str().expect("a base64 string"))
        .unwrap()
}

/// `POST /publish/{subject}` written byte by byte on a TCP connection, so header values can hold
/// any byte; returns the status and the (de-chunked) body.
async fn raw_publish(
    gw: &Gateway,
    subject: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let token = gw.admin_token().unwrap().unwrap_or_default();
    let mut request = format!(
        "POST /publish/{subject} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Length: {}\r\nConnection: close\r\n",
        gw.addr(),
        body.len()
    )
    .into_bytes();
    for (name, value) in headers {
        request.extend_from_slice(name.as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(body);
    let mut stream = tokio::net::TcpStream::connect(gw.addr()).await.unwrap();
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&response[..split]).to_ascii_lowercase();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let mut body = response[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, body)
}

fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(end) = chunked.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&chunked[..end]).unwrap_or("0");
        let size =
            usize::from_str_radix(size.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        body.extend_from_slice(&chunked[end + 2..end + 2 + size]);
        chunked = &chunked[end + 2 + size + 2..];
    }
    body
}

/// The status, `error.code` and `error.attribute` of an error body.
fn error_of(status: u16, body: &[u8]) -> (u16, String, String) {
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |name: &str| body["error"][name].as_str().unwrap_or("").to_owned();
    (status, field("code"), field("attribute"))
}
