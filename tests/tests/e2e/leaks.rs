//! Nothing host-internal reaches a guest or a client, and the data dir is the gateway's alone:
//! a guest's I/O error says what failed without the host's backtrace (even with
//! `RUST_BACKTRACE=1`), a host-side key-value failure reaches the guest as its kind only, a
//! function whose artifact cannot be loaded answers 503 naming it (the log says where and why),
//! and every directory and file the gateway writes is `0700`/`0600` whatever the umask, with
//! looser ones from before narrowed at start.

use crate::error_code;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, RedisServer, Wrapped, guests};

crate::covers!(leaks_debug_string);

/// What host detail looks like in text a guest or client reads: paths, source locations,
/// backtrace frames, and the crates on the host's side.
const HOST_DETAIL: &[&str] = &[
    "/",
    "src/",
    ".rs:",
    "backtrace",
    "0: ",
    "wasmtime",
    "wasmgate",
    "hyper",
    "tokio",
    "anyhow",
    "cranelift",
    "redis",
    "127.0.0.1",
];

/// Fails naming the fragment when `text` carries host detail.
fn assert_no_host_detail(text: &str) {
    let lower = text.to_lowercase();
    for fragment in HOST_DETAIL {
        assert!(!lower.contains(fragment), "{fragment:?} in {text:?}");
    }
}

/// A gateway that would print backtraces into every error it formats with `{:?}`.
fn backtraces_on() -> wasmgate_tests::GatewayBuilder {
    Gateway::builder()
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
}

#[tokio::test]
async fn a_guest_reading_past_the_body_limit_learns_the_limit_and_nothing_of_the_host() {
    let gw = backtraces_on()
        .config_toml("[http]\nmax_request_body = \"16KiB\"\n")
        .capture_logs()
        .start()
        .await
        .unwrap();
    let response = gw
        .deploy("leaky", guests::LEAKS_DEBUG_STRING)
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // Streamed without a length, so the guest starts reading before the limit is known to be hit;
    // one chunk a little over the limit, written at once, so the client is not still writing
    // when the gateway answers and closes (a broken pipe on a loaded machine).
    let chunks = std::iter::once(Ok::<_, std::io::Error>(vec![b'x'; 20 * 1024]));
    let response = gw
        .client()
        .post(gw.url("/fn/leaky"))
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-outcome"], "failed");
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let told = response.text().await.unwrap();
    assert!(
        told.contains("exceeds limit") && told.contains("16384"),
        "still meaningful: {told:?}"
    );
    assert_no_host_detail(&told);
    let logs = gw.logs();
    assert!(
        logs.iter()
            .any(|line| line.contains("a guest read an I/O error")
                && line.contains("leaky")
                && line.contains(&request_id)),
        "the detail is logged with the function and request: {logs:#?}"
    );
}

#[tokio::test]
async fn a_host_side_key_value_failure_reaches_the_guest_as_its_kind_only() {
    let redis = RedisServer::start().await.unwrap();
    let gw = backtraces_on()
        .config_toml(&format!(
            "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ))
        .start()
        .await
        .unwrap();
    let response = gw
        .deploy_granted("kv", guests::CAPS_KV, &[Capability::Keyvalue], "")
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    drop(redis);
    let response = gw
        .client()
        .put(gw.url("/fn/kv/orders/1"))
        .body("x")
        .send()
        .await
        .unwrap();
    let status = response.status();
    let told = response.text().await.unwrap();
    assert_eq!(
        (status.as_u16(), told.as_str()),
        (500, r#"set: Error::Other("storage failure")"#)
    );
    assert_no_host_detail(&told);
}

/// The artifact files in `data_dir`.
fn artifacts(data_dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(data_dir.join("artifacts"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "cwasm"))
        .collect()
}

#[tokio::test]
async fn a_function_whose_artifact_cannot_be_loaded_answers_503_naming_it_and_the_log_says_why() {
    let mut gw = backtraces_on()
        // One attempt: the async call's result is the 503 at once, not after backoff.
        .config_toml("[events]\nmax_attempts = 1\n")
        .capture_logs()
        .start()
        .await
        .unwrap();
    gw.deploy("gone", guests::HTTP_HELLO).await.unwrap();
    let [gone] = artifacts(gw.data_dir()).try_into().unwrap();
    gw.deploy("damaged", guests::HTTP_ECHO).await.unwrap();
    let damaged = artifacts(gw.data_dir())
        .into_iter()
        .find(|path| *path != gone)
        .unwrap();
    gw.kill().await.unwrap();
    std::fs::remove_file(&gone).unwrap();
    std::fs::write(&damaged, b"not what was compiled").unwrap();
    gw.restart().await.unwrap();

    let data_dir = gw.data_dir().display().to_string();
    for (name, artifact) in [("gone", &gone), ("damaged", &damaged)] {
        let response = gw
            .client()
            .get(gw.url(&format!("/fn/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["retry-after"], "1", "{name}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "function_unavailable", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(name), "{message}");
        assert!(!body.to_string().contains(&data_dir), "{body}");
        assert_no_host_detail(message);
        let artifact = artifact.display().to_string();
        let logs = gw.logs();
        assert!(
            logs.iter()
                .any(|line| line.contains(name) && line.contains(&artifact)),
            "the log names {name}'s artifact and why: {logs:#?}"
        );
    }
    // An async call's reader is told the same, under the call's id.
    let accepted = gw
        .client()
        .post(gw.url("/async/gone/"))
        .send()
        .await
        .unwrap();
    let id = accepted.headers()["x-call-id"].to_str().unwrap().to_owned();
    let call = wasmgate_tests::eventually(
        "the async call failed",
        crate::DEADLINE,
        || async { gw.get_json(&format!("/calls/{id}")).await.unwrap() },
        |call| call["state"] == "failed",
    )
    .await
    .unwrap();
    let told = call["result"]["body"].as_str().unwrap();
    assert!(told.contains("gone") && told.contains(&id), "{call}");
    assert!(!told.contains(&data_dir), "{call}");
    assert_no_host_detail(told);

    let (status, _) = error_code(gw.client().get(gw.url("/fn/gone")).send().await.unwrap()).await;
    assert_eq!(status, 503, "still refused, not cached as something else");
}

/// Every entry under `root` (itself included) that is not a `0700` directory or `0600` file,
/// with its mode.
fn not_private(root: &Path) -> Vec<String> {
    walk(root)
        .into_iter()
        .filter_map(|path| {
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let wanted = if meta.is_dir() { 0o700 } else { 0o600 };
            (mode != wanted).then(|| format!("{} {mode:o}", path.display()))
        })
        .collect()
}

#[tokio::test]
async fn everything_the_gateway_writes_in_its_data_dir_is_private_even_under_umask_000() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.kill().await.unwrap();
    // The wrapped run creates the data dir and everything in it afresh, under `umask 000`.
    std::fs::remove_dir_all(gw.data_dir()).unwrap();
    let wrapped = Wrapped::start(&gw, "umask 000").await.unwrap();

    let kv = gw
        .sign(guests::CAPS_KV, "kv", &[Capability::Keyvalue])
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .part("module", reqwest::multipart::Part::bytes(kv))
        .part("manifest", reqwest::multipart::Part::text(""));
    let client = gw.client();
    let deployed = client
        .put(wrapped.url("/functions/kv"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201);
    let written = client
        .put(wrapped.url("/fn/kv/orders/1"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 200);
    let accepted = client
        .post(wrapped.url("/async/kv/orders/2"))
        .body("y")
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 202);
    let call = accepted.headers()["x-call-id"].to_str().unwrap().to_owned();
    let published = client
        .post(wrapped.url("/publish/orders.created"))
        .body("z")
        .send()
        .await
        .unwrap();
    assert!(published.status().is_success(), "{}", published.status());
    wasmgate_tests::eventually(
        "the async call finished",
        crate::DEADLINE,
        || async {
            let call: serde_json::Value = client
                .get(wrapped.url(&format!("/calls/{call}")))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            call["state"].as_str().unwrap_or("").to_owned()
        },
        |state| state == "done",
    )
    .await
    .unwrap();

    let loose = not_private(gw.data_dir());
    assert!(loose.is_empty(), "not private: {loose:#?}");
    for file in ["registry.redb", "calls.redb", "kv.redb", "bus.redb"] {
        let found = std::fs::read_dir(gw.data_dir())
            .unwrap()
            .any(|e| e.unwrap().file_name() == file);
        assert!(found, "{file} is where this test looks");
    }
    assert_eq!(artifacts(gw.data_dir()).len(), 1);
}

#[tokio::test]
async fn a_data_dir_left_readable_by_others_is_narrowed_at_start_and_the_log_says_so() {
    let mut gw = Gateway::builder().capture_logs().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    gw.kill().await.unwrap();
    let data_dir = gw.data_dir().to_path_buf();
    std::fs::write(data_dir.join("operator-notes.txt"), "a restored backup").unwrap();
    // Loosen everything the way `cp -r` under umask 022 would.
    for path in walk(&data_dir) {
        let mode = if path.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    assert!(!not_private(&data_dir).is_empty());

    gw.restart().await.unwrap();
    let loose = not_private(&data_dir);
    assert!(loose.is_empty(), "not narrowed: {loose:#?}");
    let logs = gw.logs();
    for name in ["registry.redb", "operator-notes.txt", "artifacts"] {
        assert!(
            logs.iter()
                .any(|line| line.contains("narrowed") && line.contains(name)),
            "the log names {name}: {logs:#?}"
        );
    }
    let hello = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(hello.status(), 200, "the narrowed files still serve");
}

/// Every path under `root`, itself included.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut all = vec![root.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        if all[i].is_dir() {
            let children: Vec<PathBuf> = std::fs::read_dir(&all[i])
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            all.extend(children);
        }
        i += 1;
    }
    all
}
