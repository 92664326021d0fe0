//! Hostile function names through the real binary, sent byte for byte (no client normalises
//! `..` or decodes `%2F` on the way): each is refused with a JSON error, nothing is registered,
//! and no file or directory appears in the data dir.

use std::collections::BTreeSet;
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

/// Everything the data dir may hold: fixed database files, and artifacts named by digest.
const DATA_FILES: [&str; 7] = [
    "artifacts",
    "originals",
    "bus.redb",
    "calls.redb",
    "kv.redb",
    "registry.redb",
    "schedules.redb",
];

/// A long name that still fits in a request head under `http.max_header_size` (16KiB).
const LONG_NAME: usize = 15_000;

/// A response read off the wire.
struct Raw {
    status: u16,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Raw {
    /// The `error.code` of a JSON error body; `None` if the answer is not one.
    fn code(&self) -> Option<String> {
        if self.content_type.as_deref() != Some("application/json") {
            return None;
        }
        let body: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        Some(body["error"]["code"].as_str()?.to_owned())
    }
}

impl Raw {
    /// What is wrong with this answer to `request`, if it is not `status` with JSON error
    /// `code`, or if it echoes the input whole (a message quotes at most a short prefix).
    fn problems(&self, request: &str, status: u16, code: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if (self.status, self.code().as_deref()) != (status, Some(code)) {
            problems.push(format!("{request}: {self:?}"));
        }
        if self.body.len() > 1024 {
            problems.push(format!("{request}: {} byte body", self.body.len()));
        }
        problems
    }
}

impl std::fmt::Debug for Raw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let body = String::from_utf8_lossy(&self.body);
        let shown: String = body.chars().take(200).collect();
        write!(f, "{} {:?} {shown:?}", self.status, self.content_type)
    }
}

/// Sends `method target` exactly as given (with the admin token), on a fresh connection, and
/// reads the whole response.
async fn raw(gw: &Gateway, method: &str, target: &[u8], body: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(gw.addr()).await.unwrap();
    let mut request = format!("{method} ").into_bytes();
    request.extend_from_slice(target);
    request.extend_from_slice(
        format!(
            " HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\nconnection: close\r\ncontent-type: application/wasm\r\ncontent-length: {}\r\n\r\n",
            gw.addr(),
            gw.admin_token().unwrap().unwrap_or_default(),
            body.len()
        )
        .as_bytes(),
    );
    request.extend_from_slice(body);
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    parse(&response)
}

/// Splits an HTTP/1.1 response: gateway answers have a `content-length`, guests' are chunked.
fn parse(response: &[u8]) -> Raw {
    let text = String::from_utf8_lossy(response);
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of head: {text}"));
    let head = String::from_utf8_lossy(&response[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text}"));
    let header = |name: &str| {
        head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let mut body = response[end + 4..].to_vec();
    if header("transfer-encoding").as_deref() == Some("chunked") {
        body = dechunk(&body).unwrap_or_else(|| panic!("bad chunked body: {text}"));
    } else {
        // A 204 has no content-length and no body.
        let length = header("content-length").map_or(0, |n| n.parse::<usize>().unwrap());
        assert_eq!(length, body.len(), "{text}");
    }
    Raw {
        status,
        content_type: header("content-type"),
        body,
    }
}

/// The data of a chunked body, `None` if it is malformed or cut short.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).ok()?, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(data);
        }
        data.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

/// Every file and directory under `dir`, relative to it.
fn walk(dir: &Path) -> BTreeSet<String> {
    fn visit(root: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(root).unwrap();
            out.insert(relative.to_string_lossy().into_owned());
            if path.is_dir() {
                visit(root, &path, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    visit(dir, dir, &mut out);
    out
}

/// Checks the data dir holds only the known files and digest-named artifacts, and returns it.
fn data_dir_layout(gw: &Gateway) -> BTreeSet<String> {
    let entries = walk(gw.data_dir());
    let mut artifacts = 0;
    for entry in &entries {
        if let Some(file) = entry.strip_prefix("artifacts/") {
            // `<sha256 hex>.cwasm`: the name comes from the artifact's bytes, never from a request.
            assert_digest_named(entry, file, ".cwasm", "artifact");
            artifacts += 1;
        } else if let Some(file) = entry.strip_prefix("originals/") {
            // `<sha256 hex>.wasm`: the signed original, named by its own bytes too.
            assert_digest_named(entry, file, ".wasm", "original");
        } else {
            assert!(DATA_FILES.contains(&entry.as_str()), "unexpected {entry}");
        }
    }
    assert!(artifacts > 0, "no artifact in {entries:?}");
    entries
}

/// `file` (the data-dir `entry`) is a lowercase sha256 hex digest followed by `suffix`.
fn assert_digest_named(entry: &str, file: &str, suffix: &str, kind: &str) {
    let stem = file
        .strip_suffix(suffix)
        .unwrap_or_else(|| panic!("{entry}"));
    assert!(
        stem.len() == 64 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{kind} not named by digest: {entry}"
    );
}

/// The names `GET /functions` lists.
async fn listed(gw: &Gateway) -> Vec<String> {
    gw.functions()
        .await
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Names under `/functions/` that reach the name check, each refused as `invalid_name`.
fn invalid_names() -> Vec<Vec<u8>> {
    let mut names: Vec<Vec<u8>> = [
        // Traversal and separators, raw and percent-encoded (never decoded).
        ".",
        "..",
        "...",
        "..%2Fetc",
        "..%2f..%2fetc%2fpasswd",
        "%2e%2e",
        "%2E%2E%2Fetc",
        "a%2Fb",
        "a%00",
        "%00",
        "h%65llo",
        "a\\b",
        "..\\..\\etc",
        "~root",
        "a.b",
        // Percent-encoded UTF-8: RLO, fullwidth dots, Cyrillic е.
        "%E2%80%AEolleh",
        "%EF%BC%8E%EF%BC%8E",
        "h%D0%B5llo",
        // Raw UTF-8: Cyrillic е, zero-width space, RLO, fullwidth h, combining acute,
        // the ﬁ ligature, division slash, fullwidth dots, Kelvin sign.
        "h\u{435}llo",
        "hel\u{200b}lo",
        "\u{202e}olleh",
        "\u{ff48}ello",
        "he\u{301}llo",
        "\u{fb01}le",
        "a\u{2215}b",
        "\u{ff0e}\u{ff0e}",
        "\u{212a}ey",
        // Case and shape.
        "Hello",
        "HELLO",
        "hello-",
        "-hello",
        "1hello",
        "a_b",
    ]
    .map(|s| s.as_bytes().to_vec())
    .to_vec();
    names.push("a".repeat(64).into_bytes());
    names.push("a".repeat(LONG_NAME).into_bytes());
    names
}

/// Paths under `/functions/` with more than one segment: no route, so 404 `not_found`.
const UNROUTED: [&str; 8] = [
    "../etc",
    "../../etc/passwd",
    "a/../b",
    "hello/../../x",
    "%2e%2e/%2e%2e/etc",
    // `/functions//hello`: not another spelling of `/functions/hello` (it once deleted it).
    "/hello",
    "hello/",
    "hello/%2e%2e",
];

#[tokio::test]
async fn hostile_names_on_the_admin_api_are_refused_and_leave_no_trace() {
    let mut gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let before = data_dir_layout(&gw);
    // A valid component signed for `hello`: only the name may stop these deploys.
    let module = gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap();

    let mut failures = Vec::new();
    for method in ["PUT", "GET", "DELETE"] {
        let body: &[u8] = if method == "PUT" { &module } else { b"" };
        let mut cases: Vec<(Vec<u8>, u16, &str)> = invalid_names()
            .into_iter()
            .map(|name| (name, 400, "invalid_name"))
            .collect();
        cases.extend(UNROUTED.map(|p| (p.as_bytes().to_vec(), 404, "not_found")));
        for (name, status, code) in cases {
            let target = [b"/functions/".as_slice(), &name].concat();
            let response = raw(&gw, method, &target, body).await;
            let shown = String::from_utf8_lossy(&target[..target.len().min(60)]).into_owned();
            failures.extend(response.problems(&format!("{method} {shown}"), status, code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // An empty name is the collection itself, which takes only GET.
    for method in ["PUT", "DELETE"] {
        let response = raw(&gw, method, b"/functions/", b"").await;
        assert_eq!(
            (response.status, response.code().as_deref()),
            (405, Some("method_not_allowed"))
        );
    }

    assert_eq!(listed(&gw).await, ["hello"]);
    assert_eq!(data_dir_layout(&gw), before);
    // `DELETE /functions//hello` above did not delete `hello`; it still serves.
    let hello = raw(&gw, "GET", b"/fn/hello", b"").await;
    assert_eq!(
        (hello.status, hello.body.as_slice()),
        (200, b"hello from wasmgate\n".as_slice())
    );
    // And the durable registry agrees.
    gw.restart().await.unwrap();
    assert_eq!(listed(&gw).await, ["hello"]);
    assert_eq!(data_dir_layout(&gw), before);
}

#[tokio::test]
async fn request_lines_hyper_refuses_never_reach_the_gateway_and_change_nothing() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let before = data_dir_layout(&gw);
    let huge = [b"/functions/".as_slice(), &b"a".repeat(100 * 1024)].concat();
    // Far past `http.max_header_size` (twice its 16KiB): hyper answers 431 itself, with no body.
    let response = raw(&gw, "PUT", &huge, b"").await;
    assert_eq!((response.status, response.body.len()), (431, 0));
    // Bytes that are not allowed in a request target at all: 400 from hyper, no body.
    for target in [
        b"/functions/a b".as_slice(),
        b"/functions/a\x00b",
        b"/functions/a\x7f",
        b"/functions/a\tb",
    ] {
        for method in ["PUT", "GET", "DELETE"] {
            let response = raw(&gw, method, target, b"").await;
            assert_eq!(
                (response.status, response.body.len()),
                (400, 0),
                "{method} {target:?}"
            );
        }
    }
    assert_eq!(listed(&gw).await, ["hello"]);
    assert_eq!(data_dir_layout(&gw), before);
}

#[tokio::test]
async fn hostile_names_on_invocation_paths_answer_404_json_and_touch_no_file() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let before = data_dir_layout(&gw);
    let long = format!("/fn/{}", "a".repeat(LONG_NAME));
    let mut failures = Vec::new();
    for target in [
        "/fn/..%2Fetc",
        "/fn/%2e%2e",
        "/fn/..",
        "/fn/../functions",
        "/fn/../fn/hello",
        // Spellings of `hello` that must not reach it: encoded, upper case, look-alike, doubled '/'.
        "/fn/h%65llo",
        "/fn/HELLO",
        "/fn/hello%00",
        "/fn/h\u{435}llo",
        "/fn/\u{ff48}ello",
        "/fn/hel\u{200b}lo",
        "/fn//hello",
        "/async//async/hello/x",
        "/async/..%2Fetc/x",
        "/async/h%65llo/x",
        &long,
    ] {
        let method = if target.starts_with("/async/") {
            "POST"
        } else {
            "GET"
        };
        let response = raw(&gw, method, target.as_bytes(), b"").await;
        let shown: String = target.chars().take(60).collect();
        failures.extend(response.problems(&format!("{method} {shown}"), 404, "function_not_found"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(data_dir_layout(&gw), before);
}

#[tokio::test]
async fn bucket_names_and_keys_from_a_guest_are_database_keys_never_paths() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw
        .deploy_granted("kv", guests::CAPS_KV, &[Capability::Keyvalue], "")
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let before = data_dir_layout(&gw);
    // The guest opens bucket `{1}` and writes key `{2..}` from its path: `..`, traversal keys and
    // look-alikes all become redb keys (`fn/kv/<bucket>`, key), so no file may appear.
    for target in [
        "/fn/kv/../../../etc/passwd",
        "/fn/kv/../x",
        "/fn/kv/%2e%2e/%2e%2e%2Fetc",
        "/fn/kv/.\u{2215}x/y",
        "/fn/kv/\u{202e}b/k",
    ] {
        let response = raw(&gw, "PUT", target.as_bytes(), b"value").await;
        assert_eq!(response.status, 200, "{target}: {response:?}");
        let read = raw(&gw, "GET", target.as_bytes(), b"").await;
        assert_eq!(
            (read.status, read.body.as_slice()),
            (200, b"value".as_slice()),
            "{target}"
        );
    }
    assert_eq!(data_dir_layout(&gw), before);
}
