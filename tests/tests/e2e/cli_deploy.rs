//! `wasmgate deploy` through the real binary: a component file and a `wasmgate new` project go
//! from disk to a function that answers, grants are never guessed, and the gateway's refusals
//! reach the user as it wrote them, with what to do next, changing nothing.

use crate::cli_client::{Client as User, json_of, stderr, stdout};
use wasmgate_claims::SigningKey;
use wasmgate_tests::{Gateway, guests};

/// Whether `name` is deployed on `gw`.
async fn deployed(gw: &Gateway, name: &str) -> bool {
    let status = gw
        .client()
        .get(gw.url(&format!("/functions/{name}")))
        .send()
        .await
        .unwrap()
        .status();
    status == 200
}

#[tokio::test]
async fn a_component_file_is_signed_uploaded_and_answers() {
    let gw = Gateway::builder().start().await.unwrap();
    let user = User::new();
    let key = user.key_file("issuer.pem", gw.key());
    user.login(&gw, &key).await;

    let out = user
        .run(&["deploy", guests::HTTP_HELLO, "--name", "hello"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("deployed hello version 1 (no grants)"),
        "{text}"
    );
    assert!(text.contains(&gw.url("/fn/hello/")), "{text}");
    assert!(text.contains("first answer: 200 OK"), "{text}");
    // Not a terminal: progress is plain lines on stderr, and no colour anywhere.
    assert!(stderr(&out).contains("uploading hello"), "{}", stderr(&out));
    assert!(!text.contains('\u{1b}'), "{text:?}");

    // Again, for scripts: the gateway's answer inside one JSON object; a new version.
    let out = user
        .run(&["deploy", guests::HTTP_HELLO, "--name", "hello", "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    let report = json_of(&out);
    assert_eq!(report["version"], 2);
    assert_eq!(report["first_status"], 200);
    assert_eq!(report["deploy"]["replaced"], true);
    assert_eq!(report["caps"], serde_json::json!([]));
    assert!(
        stderr(&out).is_empty(),
        "--json prints no progress: {}",
        stderr(&out)
    );

    // A manifest is signed into the claims and sent with the component: its [health] check ran.
    let manifest = user.home().join("manifest.toml");
    std::fs::write(&manifest, "[health]\npath = \"/\"\n").unwrap();
    let out = user
        .run(&[
            "deploy",
            guests::HTTP_HELLO,
            "--name",
            "hello",
            "--manifest",
            manifest.to_str().unwrap(),
            "--json",
        ])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["deploy"]["health_check"], "passed");
}

#[tokio::test]
async fn grants_are_proposed_never_guessed_and_refusals_change_nothing() {
    let gw = Gateway::builder().start().await.unwrap();
    let user = User::new();
    let key = user.key_file("issuer.pem", gw.key());
    user.login(&gw, &key).await;

    // The key-value guest imports wasi:keyvalue: without a grant, no deploy at all.
    let out = user.run(&["deploy", guests::CAPS_KV, "--name", "kv"]).await;
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(
        error.contains("wasi:keyvalue") && error.contains("--cap keyvalue"),
        "{error}"
    );
    assert!(!deployed(&gw, "kv").await);

    // --yes grants what the imports need, and the function works with it.
    let out = user
        .run(&["deploy", guests::CAPS_KV, "--name", "kv", "--yes", "--json"])
        .await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(json_of(&out)["caps"], serde_json::json!(["keyvalue"]));
    let put = user
        .run(&["call", "kv", "/default/k", "-X", "PUT", "-d", "v"])
        .await;
    assert!(put.status.success(), "{}", stderr(&put));
    let get = user.run(&["call", "kv", "/default/k"]).await;
    assert_eq!(stdout(&get), "v");

    // A key the gateway does not trust: its refusal as it wrote it, with what to do next.
    let stranger = user.key_file("stranger.pem", &SigningKey::generate());
    let out = user
        .run(&[
            "deploy",
            guests::HTTP_HELLO,
            "--name",
            "other",
            "--key",
            stranger.to_str().unwrap(),
        ])
        .await;
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(error.contains("403 untrusted_issuer"), "{error}");
    assert!(error.contains("--trust PUBKEY"), "{error}");
    assert!(!deployed(&gw, "other").await);

    // Bad input is refused before anything is sent.
    let out = user.run(&["deploy", "/no/such/file.wasm"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("cannot read /no/such/file.wasm"),
        "{}",
        stderr(&out)
    );
    let out = user
        .run(&["deploy", guests::HTTP_HELLO, "--name", "Not_A_Name"])
        .await;
    assert!(!out.status.success());
    assert!(!deployed(&gw, "Not_A_Name").await);
    let empty = tempfile::tempdir().unwrap();
    let out = user.run(&["deploy", empty.path().to_str().unwrap()]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("wasmgate new"), "{}", stderr(&out));
}

/// The quickstart of the README and the template's README, as a new user types it: `new`, then
/// `deploy` in the project (which builds it), then `call`.
#[tokio::test]
async fn new_then_deploy_then_call_gets_hello_from_the_rust_template() {
    let gw = Gateway::builder().start().await.unwrap();
    let user = User::new();
    let key = user.key_file("issuer.pem", gw.key());
    user.login(&gw, &key).await;
    let out = user.run(&["new", "hello", "--template", "rust"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let project = user.home().join("hello");
    assert!(project.join("deploy.toml").is_file());

    // Shared between runs (as in the templates suite), so only the first one compiles wstd.
    let target = wasmgate_tests::cargo_target_dir().join("templates");
    let out = user
        .run_in(&project, &["deploy"], &[("CARGO_TARGET_DIR", &target)])
        .await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("first answer: 200 OK"),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains("cargo build --release"),
        "the build ran: {}",
        stderr(&out)
    );

    let out = user.run(&["call", "hello"]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "hello from hello\n");

    // A build that fails stops the deploy, shows why, and deploys nothing new.
    std::fs::write(project.join("src/main.rs"), "this is not rust").unwrap();
    let out = user
        .run_in(
            &project,
            &["deploy", "--name", "broken"],
            &[("CARGO_TARGET_DIR", &target)],
        )
        .await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the build `cargo build --release` failed"),
        "{}",
        stderr(&out)
    );
    assert!(!deployed(&gw, "broken").await);
}
