//! Components from an OCI registry: `wasmgate push` to a real registry (Debian's
//! `docker-registry`, the CNCF Distribution registry), then `PUT /functions/NAME` with an
//! `oci://` reference that the gateway pulls, verifies and deploys like an upload, through the
//! egress guard and with the operator's credentials. Every refusal changes nothing.

use crate::cli_client::{Client, stderr, stdout};
use serde_json::{Value, json};
use wasmgate_tests::{Gateway, RegistryServer, guests, wasmgate_bin};

/// A gateway that may reach loopback, where `registry` serves over plain HTTP, plus `extra`
/// settings.
async fn gateway_for(registry: &RegistryServer, extra: &str) -> Gateway {
    Gateway::builder()
        .config_toml(&format!(
            "[egress]\nallow = [\"127.0.0.0/8\"]\n\n[registries.\"{}\"]\nplain_http = true\n{extra}",
            registry.host()
        ))
        .start()
        .await
        .unwrap()
}

/// `PUT /functions/{name}` with `body` as JSON; the status and the answer.
async fn deploy_json(gw: &Gateway, name: &str, body: &Value) -> (u16, Value) {
    let response = gw
        .client()
        .put(gw.url(&format!("/functions/{name}")))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The hello guest signed by `gw`'s key for `name`, written into `user`'s home; its path.
fn signed_hello(gw: &Gateway, user: &Client, name: &str) -> String {
    let path = user.home().join(format!("{name}.wasm"));
    std::fs::write(&path, gw.sign(guests::HTTP_HELLO, name, &[]).unwrap()).unwrap();
    path.to_str().unwrap().to_owned()
}

/// `wasmgate push FILE REFERENCE --plain-http --json ARGS` with `env`; its output.
async fn push(
    user: &Client,
    file: &str,
    reference: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut all = vec!["push", file, reference, "--plain-http", "--json"];
    all.extend_from_slice(args);
    user.run_in(user.home(), &all, env).await
}

/// Pushes `layer` (of `media_type`) as a one-layer image by hand, as a non-wasm tool would.
async fn push_raw(registry: &RegistryServer, repository: &str, tag: &str, media_type: &str) {
    let http = reqwest::Client::new();
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
    };
    let config = b"{}".to_vec();
    let layer = b"not a component".to_vec();
    for blob in [&config, &layer] {
        let started = http
            .post(format!("{}/v2/{repository}/blobs/uploads/", registry.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(started.status(), 202);
        let location = started.headers()["location"].to_str().unwrap().to_owned();
        let mut url = reqwest::Url::parse(&registry.url())
            .unwrap()
            .join(&location)
            .unwrap();
        url.query_pairs_mut().append_pair("digest", &sha(blob));
        let done = http.put(url).body(blob.clone()).send().await.unwrap();
        assert_eq!(done.status(), 201);
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(&config), "size": config.len()},
        "layers": [{"mediaType": media_type, "digest": sha(&layer), "size": layer.len()}],
    });
    let put = http
        .put(format!(
            "{}/v2/{repository}/manifests/{tag}",
            registry.url()
        ))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201, "{}", put.text().await.unwrap());
}

#[tokio::test]
async fn a_pushed_component_deploys_from_the_registry_by_tag_and_by_digest() {
    let registry = RegistryServer::start().await.unwrap();
    let gw = gateway_for(&registry, "").await;
    let user = Client::new();
    let file = signed_hello(&gw, &user, "hello");
    let reference = format!("oci://{}/acme/hello:1.0", registry.host());

    let out = push(&user, &file, &reference, &[], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let pushed: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let digest = pushed["digest"].as_str().unwrap().to_owned();
    let pinned = pushed["pinned"].as_str().unwrap().to_owned();
    assert!(pinned.contains("@sha256:"), "{pushed}");

    // What the registry holds is the wasm artifact layout `wkg oci push` writes.
    let manifest: Value = reqwest::Client::new()
        .get(format!("{}/v2/acme/hello/manifests/1.0", registry.url()))
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        manifest["config"]["mediaType"],
        "application/vnd.wasm.config.v0+json"
    );
    assert_eq!(manifest["layers"][0]["mediaType"], "application/wasm");
    assert_eq!(manifest["layers"][0]["digest"], digest.as_str());

    // By tag: pulled, verified, deployed like an upload; the digest is the pushed file's.
    let (status, deployed) = deploy_json(&gw, "hello", &json!({ "oci": reference })).await;
    assert_eq!(status, 201, "{deployed}");
    assert_eq!(deployed["digest"], digest.as_str());
    assert_eq!(
        gw.get_text("/fn/hello/").await.unwrap(),
        "hello from wasmgate\n"
    );
    // By manifest digest, with the component pinned as well.
    let (status, again) =
        deploy_json(&gw, "hello", &json!({ "oci": pinned, "digest": digest })).await;
    assert!(status < 300, "{status} {again}");

    // Refusals, each changing nothing.
    let before = gw.function("hello").await.unwrap();
    push_raw(
        &registry,
        "acme/image",
        "1.0",
        "application/vnd.oci.image.layer.v1.tar+gzip",
    )
    .await;
    let zeros = format!("sha256:{}", "0".repeat(64));
    let host = registry.host();
    for (body, status, code) in [
        (
            json!({ "oci": reference, "digest": zeros }),
            409,
            "digest_mismatch",
        ),
        (
            json!({ "oci": format!("oci://{host}/acme/hello:2.0") }),
            404,
            "artifact_not_found",
        ),
        (
            json!({ "oci": format!("oci://{host}/acme/image:1.0") }),
            422,
            "not_a_wasm_artifact",
        ),
        (
            json!({ "oci": "ghcr.io/acme/hello:1.0" }),
            400,
            "invalid_oci_reference",
        ),
        (
            json!({ "oci": format!("oci://{host}/acme/hello") }),
            400,
            "invalid_oci_reference",
        ),
        (
            json!({ "oci": reference, "digets": digest }),
            400,
            "bad_request",
        ),
        (
            json!({ "oci": reference, "digest": "md5:abc" }),
            400,
            "bad_request",
        ),
    ] {
        let (got, answer) = deploy_json(&gw, "hello", &body).await;
        assert_eq!(
            (got, answer["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{body}: {answer}"
        );
        assert!(
            !answer["error"]["message"].as_str().unwrap_or("").is_empty(),
            "{answer}"
        );
    }
    // Each pull is counted by its outcome; the unparsed references never reached a registry.
    for (outcome, n) in [
        ("pulled", 2.0),
        ("digest_mismatch", 1.0),
        ("artifact_not_found", 1.0),
        ("not_a_wasm_artifact", 1.0),
        ("invalid_oci_reference", 0.0),
    ] {
        let counted = gw
            .counter("wasmgate_oci_pulls_total", &[("outcome", outcome)])
            .await
            .unwrap();
        assert_eq!(counted, n, "{outcome}");
    }
    let after = gw.function("hello").await.unwrap();
    assert_eq!(after["version"], before["version"]);
    assert_eq!(after["digest"], before["digest"]);
    assert_eq!(
        gw.get_text("/fn/hello/").await.unwrap(),
        "hello from wasmgate\n"
    );

    // An unsigned component is not pushed: no gateway would take it.
    let out = push(&user, guests::HTTP_HELLO, &reference, &[], &[]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("is not signed"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_pull_goes_through_the_egress_guard_and_within_max_module_size() {
    let registry = RegistryServer::start().await.unwrap();
    let user = Client::new();
    let open = gateway_for(&registry, "").await;
    let file = signed_hello(&open, &user, "hello");
    let reference = format!("oci://{}/acme/hello:1.0", registry.host());
    let out = push(&user, &file, &reference, &[], &[]).await;
    assert!(out.status.success(), "{}", stderr(&out));

    // Loopback is not opened here: by address, and by a name that resolves to it.
    let guarded = Gateway::builder()
        .config_toml(&format!(
            "[registries.\"{0}\"]\nplain_http = true\n[registries.\"{1}\"]\nplain_http = true\n",
            registry.host(),
            registry.host().replace("127.0.0.1", "localhost")
        ))
        .start()
        .await
        .unwrap();
    for reference in [
        reference.clone(),
        reference.replace("127.0.0.1", "localhost"),
    ] {
        let (status, answer) = deploy_json(&guarded, "hello", &json!({ "oci": reference })).await;
        assert_eq!(
            (status, answer["error"]["code"].as_str().unwrap_or("")),
            (403, "registry_address_refused"),
            "{reference}: {answer}"
        );
    }
    assert!(guarded.functions().await.unwrap().is_empty());

    // The manifest's stated size is refused before the component is fetched.
    let size = std::fs::metadata(&file).unwrap().len();
    assert!(size > 16 * 1024, "the guest must outgrow the limit: {size}");
    let small = Gateway::builder()
        .config_toml(&format!(
            "max_module_size = \"16KiB\"\n[egress]\nallow = [\"127.0.0.0/8\"]\n[registries.\"{}\"]\nplain_http = true\n",
            registry.host()
        ))
        .start()
        .await
        .unwrap();
    let (status, answer) = deploy_json(&small, "hello", &json!({ "oci": reference })).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str().unwrap_or("")),
        (413, "payload_too_large"),
        "{answer}"
    );
    assert!(small.functions().await.unwrap().is_empty());
}

#[tokio::test]
async fn credentials_come_from_the_operators_settings_and_never_from_the_command_line() {
    let registry = RegistryServer::with_user("deploy-bot", "s3cret-token")
        .await
        .unwrap();
    let user = Client::new();
    // The operator's settings name the variable holding the password.
    let settings = format!(
        "[egress]\nallow = [\"127.0.0.0/8\"]\n\n[registries.\"{}\"]\nplain_http = true\nusername = \"deploy-bot\"\npassword_env = \"OCI_TEST_PASSWORD\"\n",
        registry.host()
    );
    let gw = Gateway::builder()
        .config_toml(&settings)
        .env("OCI_TEST_PASSWORD", "s3cret-token")
        .start()
        .await
        .unwrap();
    let anonymous = gateway_for(&registry, "").await;
    let file = signed_hello(&gw, &user, "hello");
    let reference = format!("oci://{}/acme/hello:1.0", registry.host());

    // Pushing needs the credentials too: refused without, taken from the variable or stdin.
    let out = push(&user, &file, &reference, &[], &[]).await;
    assert!(!out.status.success());
    assert!(stderr(&out).contains("refused access"), "{}", stderr(&out));
    let out = push(&user, &file, &reference, &["--username", "deploy-bot"], &[]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("--password-stdin, or set WASMGATE_REGISTRY_PASSWORD"),
        "{}",
        stderr(&out)
    );
    let out = push(&user, &file, &reference, &["--password-stdin"], &[]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("needs --username"),
        "{}",
        stderr(&out)
    );
    let out = push(
        &user,
        &file,
        &reference,
        &["--username", "deploy-bot"],
        &[("WASMGATE_REGISTRY_PASSWORD", "s3cret-token")],
    )
    .await;
    assert!(out.status.success(), "{}", stderr(&out));

    // A gateway without credentials for the registry is refused by it.
    let (status, answer) = deploy_json(&anonymous, "hello", &json!({ "oci": reference })).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str().unwrap_or("")),
        (502, "registry_denied"),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("[registries."),
        "{answer}"
    );

    // With them, `wasmgate deploy oci://...` asks the gateway to pull, and waits for the first answer.
    let key = user.key_file("issuer.pem", gw.key());
    user.login(&gw, &key).await;
    let out = user.run(&["deploy", &reference]).await;
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("deployed hello version 1 (grants as signed)"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("first answer: 200 OK"),
        "{}",
        stdout(&out)
    );
    let out = user.run(&["deploy", &reference, "--cap", "keyvalue"]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("signed (with its grants)"),
        "{}",
        stderr(&out)
    );

    // A variable that is not set stops the start, naming it.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wasmgate.toml");
    std::fs::write(&config, &settings).unwrap();
    let output = tokio::process::Command::new(wasmgate_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg(&config)
        .env_remove("OCI_TEST_PASSWORD")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("OCI_TEST_PASSWORD, which is not set"),
        "{said}"
    );
}
