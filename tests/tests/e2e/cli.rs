//! The offline commands through the real binary: `keys generate`, `sign`, `inspect`, and a
//! component signed by the CLI deploying to a gateway that trusts the key.

use serde_json::Value;
use sha2::{Digest, Sha256};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Output;
use wasmgate_tests::{Gateway, guests, wasmgate_bin};

fn run(args: &[&str]) -> Output {
    std::process::Command::new(wasmgate_bin())
        .args(args)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Generates a key in `dir`; returns its file and public key.
fn generate(dir: &Path) -> (std::path::PathBuf, String) {
    let key = dir.join("issuer.pem");
    let output = run(&["keys", "generate", "--out", path(&key)]);
    assert!(output.status.success(), "{output:?}");
    let public = stdout(&output).lines().last().unwrap().to_owned();
    (key, public)
}

fn inspect_json(file: &Path, trust: Option<&str>) -> (bool, Value) {
    let mut args = vec!["inspect", path(file), "--json"];
    if let Some(key) = trust {
        args.extend(["--trust", key]);
    }
    let output = run(&args);
    (
        output.status.success(),
        serde_json::from_slice(&output.stdout).unwrap(),
    )
}

#[test]
fn keys_are_private_files_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate(dir.path());
    assert_eq!(public.len(), 43, "{public}");
    assert!(
        public
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----")
    );

    let before = std::fs::read(&key).unwrap();
    let again = run(&["keys", "generate", "--out", path(&key)]);
    assert!(!again.status.success());
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn keys_and_sign_speak_json_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("issuer.pem");
    let output = run(&["keys", "generate", "--out", path(&key), "--json"]);
    assert!(output.status.success(), "{output:?}");
    let made: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(made["private_key_file"], path(&key));
    let public = made["public_key"].as_str().unwrap().to_owned();
    assert_eq!(public.len(), 43, "{public}");

    let signed = dir.path().join("hello.wasm");
    let output = run(&[
        "sign",
        "--key",
        path(&key),
        "--name",
        "hello",
        "--cap",
        "http-outgoing=api.example.com",
        "--expires",
        "12h",
        guests::HTTP_HELLO,
        "-o",
        path(&signed),
        "--json",
    ]);
    assert!(output.status.success(), "{output:?}");
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["name"], "hello");
    assert_eq!(report["issuer"], public.as_str());
    assert_eq!(
        report["caps"],
        serde_json::json!(["http-outgoing=api.example.com"])
    );
    assert_eq!(report["expires_in_seconds"], 12 * 3600);
    assert_eq!(report["manifest"], Value::Null);
    assert_eq!(report["output"], path(&signed));
    let (verified, _) = inspect_json(&signed, Some(&public));
    assert!(verified);
}

#[test]
fn sign_then_inspect_round_trips_the_claims() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate(dir.path());
    let signed = dir.path().join("fetch.wasm");
    let output = run(&[
        "sign",
        "--key",
        path(&key),
        "--name",
        "fetch",
        "--cap",
        "http-outgoing",
        "--expires",
        "90d",
        "--tag",
        "team-a",
        guests::CAPS_FETCH,
        "-o",
        path(&signed),
    ]);
    assert!(output.status.success(), "{output:?}");

    let (ok, report) = inspect_json(&signed, Some(&public));
    assert!(ok, "{report}");
    assert_eq!(report["signed"], true);
    assert_eq!(report["verified"], true);
    let claims = &report["claims"];
    assert_eq!(claims["iss"], public.as_str());
    assert_eq!(claims["sub"], "fetch");
    assert_eq!(
        claims["wasmgate"]["caps"],
        serde_json::json!(["http-outgoing"])
    );
    assert_eq!(claims["wasmgate"]["tags"], serde_json::json!(["team-a"]));
    assert_eq!(claims["wasmgate"]["hash"], report["hash"]);
    let ninety_days = 90 * 24 * 3600;
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        ninety_days
    );
    let imports: Vec<&str> = report["imports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        imports
            .iter()
            .any(|i| i.starts_with("wasi:http/outgoing-handler@")),
        "{imports:?}"
    );
    assert!(report["exports"].as_array().unwrap().iter().any(|e| {
        e.as_str()
            .unwrap()
            .starts_with("wasi:http/incoming-handler@")
    }));

    // Re-signing in place replaces the claims: one section, the new name, the same hash.
    let output = run(&[
        "sign",
        "--key",
        path(&key),
        "--name",
        "fetch2",
        "--cap",
        "http-outgoing",
        path(&signed),
        "-o",
        path(&signed),
    ]);
    assert!(output.status.success(), "{output:?}");
    let (_, again) = inspect_json(&signed, Some(&public));
    assert_eq!(again["claims"]["sub"], "fetch2");
    assert_eq!(
        again["claims"]["exp"].as_u64().unwrap() - again["claims"]["iat"].as_u64().unwrap(),
        ninety_days,
        "without --expires a signature is valid for 90 days"
    );
    assert_eq!(again["hash"], report["hash"]);

    // `--expires never`, an audience and a signed manifest.
    let manifest = dir.path().join("manifest.toml");
    std::fs::write(&manifest, "[[triggers]]\nsubject = \"orders.>\"\n").unwrap();
    let output = run(&[
        "sign",
        "--key",
        path(&key),
        "--name",
        "fetch2",
        "--expires",
        "never",
        "--audience",
        "prod-eu",
        "--manifest",
        path(&manifest),
        path(&signed),
        "-o",
        path(&signed),
    ]);
    assert!(output.status.success(), "{output:?}");
    let (_, claims) = inspect_json(&signed, Some(&public));
    let claims = &claims["claims"];
    assert_eq!(claims["exp"], Value::Null);
    assert_eq!(claims["aud"], "prod-eu");
    let digest = Sha256::digest(std::fs::read(&manifest).unwrap());
    assert_eq!(claims["wasmgate"]["manifest"], format!("{digest:x}"));
    let text = stdout(&run(&["inspect", path(&signed)]));
    assert!(
        text.contains("audience: prod-eu") && text.contains("manifest: sha256"),
        "{text}"
    );

    // Unsigned, and text output.
    let (ok, unsigned) = inspect_json(Path::new(guests::HTTP_HELLO), None);
    assert!(ok);
    assert_eq!(unsigned["signed"], false);
    let text = stdout(&run(&["inspect", path(&signed)]));
    assert!(
        text.contains("function: fetch2") && text.contains("not checked"),
        "{text}"
    );
}

#[test]
fn inspect_fails_on_a_tampered_or_untrusted_component() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate(dir.path());
    let signed = dir.path().join("hello.wasm");
    assert!(
        run(&[
            "sign",
            "--key",
            path(&key),
            "--name",
            "hello",
            guests::HTTP_HELLO,
            "-o",
            path(&signed)
        ])
        .status
        .success()
    );
    let mut bytes = std::fs::read(&signed).unwrap();
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bytes[at] = b'j';
    let tampered = dir.path().join("tampered.wasm");
    std::fs::write(&tampered, bytes).unwrap();
    let (ok, report) = inspect_json(&tampered, Some(&public));
    assert!(!ok);
    assert_eq!(report["verified"], false);
    assert_eq!(report["error"]["code"], "module_tampered");

    let (other, _) = {
        let other_dir = tempfile::tempdir().unwrap();
        let generated = generate(other_dir.path());
        (generated.1, other_dir)
    };
    let (ok, report) = inspect_json(&signed, Some(&other));
    assert!(!ok);
    assert_eq!(report["error"]["code"], "untrusted_issuer");
}

#[test]
fn bad_sign_arguments_are_refused_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = generate(dir.path());
    let out = dir.path().join("out.wasm");
    let bad_manifest = dir.path().join("bad.toml");
    std::fs::write(&bad_manifest, "[scale]\nmax_instances = 0\n").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--name", "hello", "--cap", "filesystem"],
            "unknown capability",
        ),
        (&["--name", "Not_A_Name"], "Not_A_Name"),
        (&["--name", "hello", "--expires", "soon"], "--expires"),
        (
            &["--name", "hello", "--key", "/nonexistent/key.pem"],
            "/nonexistent/key.pem",
        ),
        (
            &[
                "--name",
                "hello",
                "--manifest",
                "/nonexistent/manifest.toml",
            ],
            "/nonexistent/manifest.toml",
        ),
        (
            &["--name", "hello", "--manifest", path(&bad_manifest)],
            "max_instances",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["sign"];
        if !extra.contains(&"--key") {
            args.extend(["--key", path(&key)]);
        }
        args.extend_from_slice(extra);
        args.extend([guests::HTTP_HELLO, "-o", path(&out)]);
        let output = run(&args);
        assert!(!output.status.success(), "{extra:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{extra:?}: {stderr}");
        assert!(!out.exists(), "nothing written for {extra:?}");
    }
}

#[tokio::test]
async fn a_component_signed_by_the_cli_deploys_to_a_gateway_trusting_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (key, public) = generate(dir.path());
    let signed = dir.path().join("hello.wasm");
    assert!(
        run(&[
            "sign",
            "--key",
            path(&key),
            "--name",
            "hello",
            guests::HTTP_HELLO,
            "-o",
            path(&signed)
        ])
        .status
        .success()
    );
    let gw = Gateway::builder()
        .untrusted()
        .arg("--trust")
        .arg(&public)
        .start()
        .await
        .unwrap();
    let response = gw
        .deploy_bytes("hello", std::fs::read(&signed).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let text = gw.get_text("/fn/hello").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
}
