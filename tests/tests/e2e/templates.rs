//! `wasmgate new`: every template shipped in the binary scaffolds a project that builds with its
//! README's command and answers on a real gateway; `rust-kv` and `rust-events` are deployed with
//! `wasmgate deploy`, whose `deploy.toml` carries their grants and manifest.
//!
//! The Rust template builds with `cargo build --release` as written (its dependencies from the
//! crate registry, its target dir under the cargo target dir so later runs reuse it). The JS and
//! Python templates build with the README's build step on the pinned toolchains the test build
//! already installed for the conformance guests (`<target>/conformance/`), instead of a second
//! `npm install` / `pip install` of the same pins.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasmgate_tests::{Gateway, guests, wasmgate_bin};

/// Runs `wasmgate new` with `args`; its exit status, stdout and stderr.
fn new(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(wasmgate_bin())
        .arg("new")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `program args` in `dir`, panicking with its output unless it succeeds.
fn run(dir: &Path, program: &str, args: &[&str], env: &[(&str, &Path)]) {
    let mut command = Command::new(program);
    command.args(args).current_dir(dir);
    for (key, value) in env {
        command.env(key, value);
    }
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?} in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Where the conformance guests' toolchains were installed by the test build.
fn conformance_dir() -> PathBuf {
    Path::new(guests::CONF_JS)
        .parent()
        .expect("the JS conformance guest lies in the conformance dir")
        .to_path_buf()
}

/// Scaffolds `name` from `template` in a new temp dir; the project's path (and the dir).
fn scaffold(name: &str, template: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    let (ok, stdout, stderr) = new(&[name, "--template", template, "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("build it:"), "{stdout}");
    (tmp, dir)
}

/// Deploys the component at `wasm` as `name` and calls it.
async fn deploy_and_call(name: &str, wasm: &Path) {
    let gw = Gateway::builder().start().await.unwrap();
    let deployed = gw.deploy(name, wasm.to_str().unwrap()).await.unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    let answer = gw
        .client()
        .get(gw.url(&format!("/fn/{name}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), format!("hello from {name}\n"));
    let missing = gw
        .client()
        .get(gw.url(&format!("/fn/{name}/nothing-here")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_rust_template_builds_with_its_readme_command_and_answers() {
    let (_tmp, dir) = scaffold("hello-rs", "rust");
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("cargo build --release"), "{readme}");
    // Shared between runs, so only the first one compiles wstd.
    let target = wasmgate_tests::cargo_target_dir().join("templates");
    run(
        &dir,
        "cargo",
        &["build", "--release", "--quiet"],
        &[("CARGO_TARGET_DIR", &target)],
    );
    let wasm = target.join("wasm32-wasip2/release/hello-rs.wasm");
    deploy_and_call("hello-rs", &wasm).await;
}

/// Deploys the project in `dir` to `gw` with `wasmgate deploy`, which builds it (in the shared
/// template target dir) and reads its `deploy.toml`: the grants and the manifest it signs.
async fn deploy_project(gw: &Gateway, dir: &Path) {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("issuer.pem");
    std::fs::write(&key, gw.key().to_pkcs8_pem().unwrap().as_bytes()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let token = gw.admin_token().unwrap().unwrap();
    let out = tokio::process::Command::new(wasmgate_bin())
        .args(["deploy", "--url", &gw.url(""), "--token", &token, "--key"])
        .arg(&key)
        .current_dir(dir)
        .env("XDG_CONFIG_HOME", home.path())
        .env(
            "CARGO_TARGET_DIR",
            wasmgate_tests::cargo_target_dir().join("templates"),
        )
        .env_remove("WASMGATE_URL")
        .env_remove("WASMGATE_TOKEN")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "wasmgate deploy in {}:\n{}\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `GET /fn/{path}`'s status and body.
async fn get(gw: &Gateway, path: &str) -> (u16, String) {
    let response = gw
        .client()
        .get(gw.url(&format!("/fn/{path}")))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn the_rust_kv_template_counts_in_the_store_and_publishes_with_its_grants() {
    let (_tmp, dir) = scaffold("hello-kv", "rust-kv");
    let project = std::fs::read_to_string(dir.join("deploy.toml")).unwrap();
    assert!(
        project.contains("caps = [\"keyvalue\", \"messaging\"]"),
        "{project}"
    );
    let gw = Gateway::builder().start().await.unwrap();
    deploy_project(&gw, &dir).await;
    // `deploy` called it once already: that was visit 1.
    for n in 2..=3 {
        assert_eq!(
            get(&gw, "hello-kv/").await,
            (200, format!("hello from hello-kv, visit {n}\n"))
        );
    }
    let published = gw
        .client()
        .post(gw.url("/fn/hello-kv/publish"))
        .body("hi")
        .send()
        .await
        .unwrap();
    let status = published.status();
    assert_eq!(
        (status.as_u16(), published.text().await.unwrap()),
        (200, "published\n".to_owned())
    );
}

#[tokio::test]
async fn the_rust_events_template_handles_what_its_manifest_subscribes_to() {
    let (_tmp, dir) = scaffold("hello-events", "rust-events");
    let gw = Gateway::builder().start().await.unwrap();
    deploy_project(&gw, &dir).await;
    assert_eq!(
        get(&gw, "hello-events/last/hello-events.greetings").await.0,
        404
    );
    // A subject outside its trigger first, then one inside: once the second has arrived, the
    // first would have too, had it been delivered.
    for subject in ["elsewhere.greetings", "hello-events.greetings"] {
        let published = gw
            .client()
            .post(gw.url(&format!("/publish/{subject}")))
            .header("content-type", "text/plain")
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(published.status(), 202);
    }
    let kept = wasmgate_tests::eventually(
        "the handler kept the message",
        crate::DEADLINE,
        || get(&gw, "hello-events/last/hello-events.greetings"),
        |(status, _)| *status == 200,
    )
    .await
    .unwrap();
    assert_eq!(kept.1, "hi");
    assert_eq!(
        get(&gw, "hello-events/last/elsewhere.greetings").await.0,
        404
    );
}

#[tokio::test]
async fn the_js_template_builds_with_componentize_js_and_answers() {
    let (_tmp, dir) = scaffold("hello-js", "js");
    let installed = conformance_dir().join("js").join("node_modules");
    std::os::unix::fs::symlink(&installed, dir.join("node_modules")).unwrap();
    run(&dir, "npm", &["run", "--silent", "build"], &[]);
    deploy_and_call("hello-js", &dir.join("hello-js.wasm")).await;
}

#[tokio::test]
async fn the_python_template_builds_with_componentize_py_and_answers() {
    let (_tmp, dir) = scaffold("hello-py", "python");
    let venv = conformance_dir().join("python-venv");
    let componentize = venv.join("bin").join("componentize-py");
    run(
        &dir,
        componentize.to_str().unwrap(),
        &[
            "-d",
            "wit",
            "-w",
            "proxy",
            "componentize",
            "app",
            "-o",
            "hello-py.wasm",
        ],
        &[],
    );
    deploy_and_call("hello-py", &dir.join("hello-py.wasm")).await;
}

#[test]
fn new_lists_its_templates_and_refuses_bad_names_templates_and_occupied_dirs() {
    let (ok, listed, _) = new(&["--list"]);
    assert!(ok);
    for template in ["rust", "rust-kv", "rust-events", "js", "python"] {
        assert!(listed.contains(template), "{listed}");
    }
    let (ok, json, _) = new(&["--list", "--json"]);
    assert!(ok);
    let all: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 5);

    let tmp = tempfile::tempdir().unwrap();
    let at = |d: &str| tmp.path().join(d).to_str().unwrap().to_owned();
    let (ok, _, err) = new(&["Bad_Name", "--dir", &at("a")]);
    assert!(!ok && err.contains("is not allowed"), "{err}");
    let (ok, _, err) = new(&["fine", "--template", "cobol", "--dir", &at("b")]);
    assert!(
        !ok && err.contains("rust, rust-kv, rust-events, js, python"),
        "{err}"
    );
    std::fs::create_dir(tmp.path().join("c")).unwrap();
    std::fs::write(tmp.path().join("c").join("keep.txt"), "mine").unwrap();
    let (ok, _, err) = new(&["fine", "--dir", &at("c")]);
    assert!(!ok && err.contains("not empty"), "{err}");
    // Nothing was written by the refusals; the occupied dir keeps only its own file.
    assert!(!tmp.path().join("a").exists() && !tmp.path().join("b").exists());
    assert_eq!(std::fs::read_dir(tmp.path().join("c")).unwrap().count(), 1);

    let (ok, json, _) = new(&["fine", "--json", "--dir", &at("d")]);
    assert!(ok);
    let made: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(made["template"], "rust");
    assert_eq!(made["build"], "cargo build --release");
    for file in made["files"].as_array().unwrap() {
        assert!(tmp.path().join("d").join(file.as_str().unwrap()).is_file());
    }
}
