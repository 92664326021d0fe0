//! Fuzzes the admin API (`/functions`, `/functions/{name}`, `/functions/{name}/logs`) through
//! the gateway's real request dispatch: one `wasmgate::Gateway` per process, on a tokio current-thread runtime, with its data
//! dir in a temporary directory, one trusted issuer (the fixed fuzz key) and an admin token. Each
//! input is a short sequence of HTTP/1.1 requests (method, path, `Authorization`, content type with
//! multipart boundaries, `X-Request-Id`, and a body that is raw bytes, a component signed by the
//! trusted key and then perhaps damaged, or a multipart form of such parts and manifests), sent
//! over an in-memory connection to `wasmgate::dispatch::dispatch`.
//!
//! A bug is a panic or hang; a status outside the admin API's documented set; a non-2xx answer
//! without a JSON body `{"error": {"code": "snake_case", "message": "..."}}`; a request id not
//! echoed; or a request that changes `GET /functions`, or the artifacts in the data dir, although
//! it was refused (or was not a deploy or delete at all); or artifacts left once nothing is
//! deployed. Every input ends by deleting what it deployed, so inputs replay alike.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use wasmgate::Gateway;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::{ByteSize, Capability, PoolSettings, Settings};

/// The admin token the gateway requires.
const TOKEN: &str = "fuzz-admin-token-0123456789abcdefghij";

/// Largest deploy body: small, so the fuzzer reaches 413 with short inputs.
const MAX_MODULE: u64 = 16 * 1024;

/// Requests per input at most; more adds cost without new states.
const MAX_OPS: usize = 6;

/// Statuses the admin API documents (DESIGN.md, gateway/src/error.rs) for what a client can send
/// when no policy, bus or storage fails: success, bad input, auth, admission, not found, method,
/// route conflict, too large, media type, invalid module.
const ADMIN_STATUSES: [u16; 12] = [200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 415, 422];

/// Names a request can use without the fuzzer having to find them.
const NAMES: [&str; 8] = [
    "hello",
    "a",
    "fn-2",
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0",
    "Hello",
    "-a",
    "a-",
    "",
];

/// Manifests that reach each deploy outcome: fine, routes (shared, so two functions conflict),
/// triggers, limits the node refuses, an unset environment variable, shared buckets.
const MANIFESTS: [&str; 11] = [
    "",
    "[scale]\nmax_instances = 2\nmax_concurrency = 3\n",
    "[http]\nroutes = [\"/api/{id}\"]\n",
    "[http]\nroutes = [\"/shared\"]\n",
    "[[triggers]]\nsubject = \"orders.created\"\nqueue = \"q\"\n",
    "[limits]\nmemory = \"2GiB\"\n",
    "[config]\nk = { env = \"FUZZ_UNSET_VARIABLE\" }\n",
    "[keyvalue]\nshared = [\"b\"]\n",
    "[scale]\nmin_instances = 1\n",
    "[limits]\ntimeout = \"0s\"\n",
    "[http]\nroutes = [\"/x/{a}\", \"/x/{b}\"]\n",
];

struct Harness {
    runtime: tokio::runtime::Runtime,
    gateway: Arc<Gateway>,
    key: SigningKey,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("build the runtime");
        let key = wasmgate_fuzz::fixed_key();
        let defaults = Settings::default();
        let settings = Settings {
            data_dir: data_dir(),
            admin_token: Some(TOKEN.into()),
            trusted_issuers: vec![key.issuer().to_string()],
            max_module_size: ByteSize::from_bytes(MAX_MODULE),
            pool: PoolSettings {
                instances: 16,
                ..defaults.pool.clone()
            },
            ..defaults
        };
        let gateway = runtime
            .block_on(Gateway::open(settings))
            .expect("open the gateway");
        Harness {
            runtime,
            gateway,
            key,
        }
    })
}

/// A fresh data dir for this process, on tmpfs when there is one (deploys fsync). Static data
/// is never dropped, so dirs of processes that are gone are removed here instead.
fn data_dir() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let base = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    const PREFIX: &str = "wasmgate-fuzz-admin-";
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix(PREFIX)
                && !PathBuf::from(format!("/proc/{pid}")).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[derive(Arbitrary, Debug)]
struct Op {
    method: MethodChoice,
    path: PathChoice,
    auth: Auth,
    content_type: ContentType,
    request_id: Option<String>,
    body: Body,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum MethodChoice {
    Get,
    Put,
    Delete,
    Post,
    Head,
    Patch,
    Options,
}

#[derive(Arbitrary, Debug)]
enum PathChoice {
    List,
    ListSlash,
    Function(NameChoice),
    Nested(NameChoice, String),
    Query(NameChoice, String),
    /// Appended to `/functions` as is (percent-encoded), e.g. `/functionsX` or `//x`.
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum NameChoice {
    Known(u8),
    Fuzzed(String),
}

impl NameChoice {
    fn text(&self) -> &str {
        match self {
            NameChoice::Known(i) => NAMES[usize::from(*i) % NAMES.len()],
            NameChoice::Fuzzed(s) => s,
        }
    }
}

#[derive(Arbitrary, Debug)]
enum Auth {
    Token,
    Missing,
    Wrong(String),
    LowercaseScheme,
    NoScheme,
    TokenWithSpace,
}

#[derive(Arbitrary, Debug)]
enum ContentType {
    Wasm,
    OctetStream,
    Multipart(Option<String>),
    MultipartNoBoundary,
    UpperWasm,
    Text,
    Missing,
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Body {
    Empty,
    Raw(Vec<u8>),
    Signed(Signed),
    Multipart(Vec<Part>),
    /// `len * 64` copies of one byte: past the size limit with a short input.
    Repeat(u8, u16),
    /// A multipart form the gateway can deploy: a message handler signed for the path's name and
    /// one of [`MANIFESTS`], so sequences of real deploys (route conflicts, replacements) are near.
    Deployable(u8),
}

#[derive(Arbitrary, Debug)]
struct Signed {
    component: ComponentChoice,
    name: SignName,
    caps: u8,
    time: TimeChoice,
    edits: Vec<(u16, u8)>,
}

#[derive(Arbitrary, Debug)]
enum ComponentChoice {
    MessageHandler,
    KeyvalueImporter,
    Empty,
    ImportAndExport,
    CoreModule,
    Nested,
}

#[derive(Arbitrary, Debug)]
enum SignName {
    /// The name in the request path, so the deploy can succeed.
    FromPath,
    Known(u8),
    Fuzzed(String),
}

#[derive(Arbitrary, Debug)]
enum TimeChoice {
    Now,
    Expired,
    NotYetValid,
    NoExpiry,
}

#[derive(Arbitrary, Debug)]
struct Part {
    name: PartName,
    data: PartData,
}

#[derive(Arbitrary, Debug)]
enum PartName {
    Module,
    Manifest,
    Other(String),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum PartData {
    Signed(Signed),
    Manifest(u8),
    ManifestText(String),
    Raw(Vec<u8>),
}

fuzz_target!(|data: &[u8]| {
    let mut input = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !input.is_empty() {
        match Op::arbitrary(&mut input) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    let h = harness();
    h.runtime.block_on(run(h, &ops));
});

/// A response as the client saw it.
struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

async fn run(h: &Harness, ops: &[Op]) {
    let mut listing = list(h).await;
    let mut stored = artifacts(h);
    for op in ops {
        let (request, modules) = build(h, op);
        let Some(request) = request else { continue };
        let sent_id = request
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let answer = send(h, request).await;
        if tracing() {
            eprintln!(
                "{method} {path} -> {} {}",
                answer.status,
                String::from_utf8_lossy(&answer.body)
            );
        }
        check_answer(op, &answer, sent_id.as_deref());
        let after = list(h).await;
        check_effect(op, &path, &answer, &modules, &listing, &after);
        let stored_after = artifacts(h);
        if !answer.status.is_success() {
            assert_eq!(
                stored_after, stored,
                "{:?} answered {} yet changed the artifacts on disk",
                op.method, answer.status
            );
        }
        listing = after;
        stored = stored_after;
    }
    cleanup(h, listing).await;
    assert_eq!(
        artifacts(h),
        BTreeSet::new(),
        "artifacts left on disk with no function deployed"
    );
}

/// The precompiled artifacts in the data dir (`<data_dir>/artifacts/<digest>.cwasm`).
fn artifacts(h: &Harness) -> BTreeSet<String> {
    let dir = h.gateway.settings.data_dir.join("artifacts");
    std::fs::read_dir(&dir)
        .expect("the artifact dir exists")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Whether to print each request and answer (`WASMGATE_FUZZ_TRACE=1`), to see what a corpus reaches.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("WASMGATE_FUZZ_TRACE").is_some())
}

/// One function as `GET /functions` shows it, without the fields that change on their own.
type Listing = BTreeMap<String, Value>;

async fn list(h: &Harness) -> Listing {
    let request = Request::get("/functions")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Full::new(Bytes::new()))
        .expect("a listing request");
    let answer = send(h, request).await;
    assert_eq!(answer.status, StatusCode::OK, "GET /functions failed");
    let body: Value = serde_json::from_slice(&answer.body).expect("the listing is JSON");
    body["functions"]
        .as_array()
        .expect("the listing has a functions array")
        .iter()
        .map(|f| {
            let name = f["name"].as_str().expect("a listed name").to_owned();
            let stable = serde_json::json!({
                "digest": f["digest"],
                "size": f["size"],
                "deployed_at": f["deployed_at"],
                "routes": f["routes"],
            });
            (name, stable)
        })
        .collect()
}

async fn cleanup(h: &Harness, listing: Listing) {
    for name in listing.keys() {
        let request = Request::delete(format!("/functions/{name}"))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Full::new(Bytes::new()))
            .expect("a delete request");
        let answer = send(h, request).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "cleanup of {name}");
    }
    assert!(list(h).await.is_empty(), "functions left after cleanup");
}

/// Sends one request over a fresh in-memory HTTP/1.1 connection to the gateway's dispatch.
async fn send(h: &Harness, request: Request<Full<Bytes>>) -> Answer {
    let (client, server) = tokio::io::duplex(256 * 1024);
    let gateway = h.gateway.clone();
    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
        wasmgate::dispatch::dispatch(
            gateway.clone(),
            req.map(wasmgate::incoming::Incoming::Http1),
        )
    });
    tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(server), service)
            .await;
    });
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(client))
        .await
        .expect("client handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let response = sender
        .send_request(request)
        .await
        .expect("the gateway answers every request");
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .expect("the answer's body arrives")
        .to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

fn check_answer(op: &Op, answer: &Answer, sent_id: Option<&str>) {
    let status = answer.status.as_u16();
    let shown = String::from_utf8_lossy(&answer.body);
    assert!(
        ADMIN_STATUSES.contains(&status),
        "status {status} is not an admin API status: {op:?} -> {shown}"
    );
    let id = answer
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer carries X-Request-Id");
    if let Some(sent) = sent_id
        && !sent.is_empty()
        && sent.len() <= 128
        && sent.bytes().all(|b| b.is_ascii_graphic())
    {
        assert_eq!(id, sent, "a sane request id was not echoed");
    }
    if answer.status.is_success() || op.method == MethodChoice::Head {
        return;
    }
    assert_eq!(
        answer
            .headers
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
        Some(b"application/json".as_slice()),
        "error {status} is not JSON: {op:?}"
    );
    let body: Value = serde_json::from_slice(&answer.body)
        .unwrap_or_else(|e| panic!("error {status} body is not JSON ({e}): {shown}"));
    let code = body["error"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("error {status} has no error.code: {shown}"));
    assert!(
        !code.is_empty() && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
        "error code {code:?} is not snake_case"
    );
    assert!(
        body["error"]["message"].is_string(),
        "error {status} has no error.message: {shown}"
    );
}

fn check_effect(
    op: &Op,
    path: &str,
    answer: &Answer,
    modules: &[Bytes],
    before: &Listing,
    after: &Listing,
) {
    // The name as the gateway reads it: everything after `/functions/` (one slash).
    let rest = path.strip_prefix("/functions").unwrap_or("");
    let name = rest.strip_prefix('/').unwrap_or(rest);
    let status = answer.status.as_u16();
    match (op.method, status) {
        (MethodChoice::Put, 200 | 201) => {
            let body: Value = serde_json::from_slice(&answer.body).expect("a deploy answers JSON");
            assert_eq!(
                body["name"].as_str(),
                Some(name),
                "deployed under another name"
            );
            assert_eq!(
                status == 200,
                before.contains_key(name),
                "201 vs 200 is wrong"
            );
            let digest = body["digest"].as_str().expect("a deploy names its digest");
            assert!(
                modules
                    .iter()
                    .any(|m| digest == format!("sha256:{:x}", Sha256::digest(m))),
                "the digest is not of a module that was sent"
            );
            assert_eq!(after[name]["digest"].as_str(), Some(digest));
            let mut expected = before.clone();
            expected.remove(name);
            let mut others = after.clone();
            others.remove(name);
            assert_eq!(others, expected, "a deploy changed other functions");
        }
        (MethodChoice::Delete, 204) => {
            assert!(answer.body.is_empty(), "204 with a body");
            assert!(
                before.contains_key(name),
                "deleted a function that was not listed"
            );
            let mut expected = before.clone();
            expected.remove(name);
            assert_eq!(after, &expected, "a delete changed more than its function");
        }
        (MethodChoice::Get, 200) if name.ends_with("/logs") => {
            // A function's recent guest lines (server-sent events; the fuzzer sends no `?`, so
            // never `?follow=true`, which would stay open).
            assert_eq!(
                answer
                    .headers
                    .get(header::CONTENT_TYPE)
                    .map(HeaderValue::as_bytes),
                Some(b"text/event-stream".as_slice()),
                "logs are not an event stream"
            );
            let function = name.trim_end_matches("/logs");
            assert!(
                before.contains_key(function),
                "logs of an unlisted function"
            );
            assert_eq!(after, before);
        }
        (MethodChoice::Get, 200) => {
            // `/functions` and `/functions/` list; others show one.
            let body: Value = serde_json::from_slice(&answer.body).expect("GET answers JSON");
            if !body["functions"].is_array() {
                let shown = body["name"].as_str().expect("a function has a name");
                assert!(before.contains_key(shown), "GET found an unlisted function");
            }
            assert_eq!(after, before);
        }
        _ => {
            if status == 404 && op.method == MethodChoice::Get {
                let body: Value = serde_json::from_slice(&answer.body).expect("JSON");
                if body["error"]["code"] == "function_not_found" {
                    assert!(!before.contains_key(name), "404 for a listed function");
                }
            }
            assert_eq!(
                after, before,
                "{:?} answered {status} yet changed GET /functions",
                op.method
            );
        }
    }
}

/// The request, or `None` when it is not valid HTTP; and every module body it carries.
fn build(h: &Harness, op: &Op) -> (Option<Request<Full<Bytes>>>, Vec<Bytes>) {
    let path_name = match &op.path {
        PathChoice::Function(n) | PathChoice::Nested(n, _) | PathChoice::Query(n, _) => n.text(),
        _ => "",
    };
    let path = match &op.path {
        PathChoice::List => "/functions".to_owned(),
        PathChoice::ListSlash => "/functions/".to_owned(),
        PathChoice::Function(n) => format!("/functions/{}", encode(n.text())),
        PathChoice::Nested(n, rest) => format!("/functions/{}/{}", encode(n.text()), encode(rest)),
        PathChoice::Query(n, q) => format!("/functions/{}?{}", encode(n.text()), encode(q)),
        PathChoice::Raw(raw) => format!("/functions{}", encode(raw)),
    };
    let boundary = match &op.content_type {
        ContentType::Multipart(Some(b)) => b.clone(),
        _ => "fuzzboundary".to_owned(),
    };
    let mut modules = Vec::new();
    let body: Bytes = match &op.body {
        Body::Empty => Bytes::new(),
        Body::Raw(bytes) => Bytes::from(bytes.clone()),
        Body::Signed(s) => Bytes::from(signed(h, s, path_name)),
        Body::Repeat(byte, len) => Bytes::from(vec![*byte; usize::from(*len) * 64]),
        Body::Deployable(manifest) => {
            let module = signed(
                h,
                &Signed {
                    component: ComponentChoice::MessageHandler,
                    name: SignName::FromPath,
                    caps: 0,
                    time: TimeChoice::Now,
                    edits: Vec::new(),
                },
                path_name,
            );
            modules.push(Bytes::from(module.clone()));
            let manifest = MANIFESTS[usize::from(*manifest) % MANIFESTS.len()];
            let mut out = Vec::new();
            for (name, data) in [
                ("module", module.as_slice()),
                ("manifest", manifest.as_bytes()),
            ] {
                out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                out.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
                );
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            Bytes::from(out)
        }
        Body::Multipart(parts) => {
            let mut out = Vec::new();
            for part in parts {
                let data = match &part.data {
                    PartData::Signed(s) => signed(h, s, path_name),
                    PartData::Manifest(i) => MANIFESTS[usize::from(*i) % MANIFESTS.len()]
                        .as_bytes()
                        .to_vec(),
                    PartData::ManifestText(text) => text.as_bytes().to_vec(),
                    PartData::Raw(bytes) => bytes.clone(),
                };
                if matches!(part.name, PartName::Module) {
                    modules.push(Bytes::from(data.clone()));
                }
                out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                match &part.name {
                    PartName::Module => out.extend_from_slice(
                        b"Content-Disposition: form-data; name=\"module\"; filename=\"m.wasm\"\r\n",
                    ),
                    PartName::Manifest => out.extend_from_slice(
                        b"Content-Disposition: form-data; name=\"manifest\"\r\n",
                    ),
                    PartName::Other(name) => out.extend_from_slice(
                        format!("Content-Disposition: form-data; name=\"{name}\"\r\n").as_bytes(),
                    ),
                    PartName::Missing => {}
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(&data);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            Bytes::from(out)
        }
    };
    if !matches!(op.body, Body::Multipart(_) | Body::Deployable(_)) {
        modules.push(body.clone());
    }
    let method = match op.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Put => Method::PUT,
        MethodChoice::Delete => Method::DELETE,
        MethodChoice::Post => Method::POST,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Patch => Method::PATCH,
        MethodChoice::Options => Method::OPTIONS,
    };
    let mut builder = Request::builder().method(method).uri(path);
    let auth = match &op.auth {
        Auth::Token => Some(format!("Bearer {TOKEN}")),
        Auth::Missing => None,
        Auth::Wrong(token) => Some(format!("Bearer {token}")),
        Auth::LowercaseScheme => Some(format!("bearer {TOKEN}")),
        Auth::NoScheme => Some(TOKEN.to_owned()),
        Auth::TokenWithSpace => Some(format!("Bearer  {TOKEN}")),
    };
    if let Some(auth) = auth.and_then(|a| HeaderValue::from_str(&a).ok()) {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    let content_type = match &op.content_type {
        ContentType::Wasm => Some("application/wasm".to_owned()),
        ContentType::OctetStream => Some("application/octet-stream".to_owned()),
        ContentType::Multipart(_) => Some(format!("multipart/form-data; boundary={boundary}")),
        ContentType::MultipartNoBoundary => Some("multipart/form-data".to_owned()),
        ContentType::UpperWasm => Some("Application/WASM; charset=binary".to_owned()),
        ContentType::Text => Some("text/plain".to_owned()),
        ContentType::Missing => None,
        ContentType::Raw(raw) => Some(raw.clone()),
    };
    if let Some(value) = content_type.and_then(|c| HeaderValue::from_str(&c).ok()) {
        builder = builder.header(header::CONTENT_TYPE, value);
    }
    if let Some(value) = op
        .request_id
        .as_deref()
        .and_then(|id| HeaderValue::from_str(id).ok())
    {
        builder = builder.header("x-request-id", value);
    }
    (builder.body(Full::new(body)).ok(), modules)
}

/// A component signed by the trusted key, then damaged by `edits` (offset, xor).
fn signed(h: &Harness, s: &Signed, path_name: &str) -> Vec<u8> {
    let component = match s.component {
        ComponentChoice::MessageHandler => wasmgate_fuzz::message_handler(),
        ComponentChoice::KeyvalueImporter => wasmgate_fuzz::keyvalue_importer(),
        ComponentChoice::Empty => wasmgate_fuzz::empty_component(),
        ComponentChoice::ImportAndExport => wasmgate_fuzz::import_and_export(),
        ComponentChoice::CoreModule => wasmgate_fuzz::core_module(),
        ComponentChoice::Nested => wasmgate_fuzz::nested_module(),
    };
    let name = match &s.name {
        SignName::FromPath => path_name.to_owned(),
        SignName::Known(i) => NAMES[usize::from(*i) % NAMES.len()].to_owned(),
        SignName::Fuzzed(name) => name.clone(),
    };
    let now = SystemTime::now();
    let hour = Duration::from_secs(3600);
    let (at, expires_in) = match s.time {
        TimeChoice::Now => (now, Some(hour)),
        TimeChoice::Expired => (now - 2 * hour, Some(hour)),
        TimeChoice::NotYetValid => (now + 24 * hour, Some(hour)),
        TimeChoice::NoExpiry => (now, None),
    };
    let caps = Capability::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| s.caps & (1 << i) != 0)
        .map(|(_, c)| c)
        .collect();
    let opts = SignOptions {
        name,
        caps,
        expires_in,
        ..SignOptions::default()
    };
    // An empty name cannot be signed: send the component unsigned instead.
    let mut bytes = wasmgate_claims::sign(&component, &h.key, &opts, at).unwrap_or(component);
    for &(at, xor) in s.edits.iter().take(4) {
        let len = bytes.len();
        if len > 0 {
            bytes[usize::from(at) % len] ^= xor;
        }
    }
    bytes
}

/// Percent-encodes what is not a plain path character, so any text makes a valid URI path.
fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
