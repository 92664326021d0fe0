use crate::error_code;
use serde_json::Value;
use wasmgate_tests::{Gateway, guests};

crate::covers!(http_hello, http_echo);

#[tokio::test]
async fn a_new_function_answers_201_and_a_replace_200_with_its_digest() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "hello");
    assert!(body["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(body["digest"].as_str().unwrap().len(), 7 + 64);
    let signed = gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap();
    assert_eq!(body["size"], signed.len());
    assert_eq!(body["issuer"], gw.key().issuer().to_string());
    assert_eq!(body["caps"], serde_json::json!([]));
    assert!(body["compile_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(
        body["routes"],
        serde_json::json!(["/fn/hello", "/fn/hello/{*path}"])
    );
    assert_eq!(body["replaced"], false);

    let response = gw.deploy("hello", guests::HTTP_ECHO).await.unwrap();
    assert_eq!(response.status(), 200);
    let replaced: Value = response.json().await.unwrap();
    assert_eq!(replaced["replaced"], true);
    assert_ne!(replaced["digest"], body["digest"]);
    // New requests get the new version.
    let text = gw.get_text("/fn/hello/x").await.unwrap();
    assert!(text.contains("\"path_with_query\":\"/x\""), "{text}");
}

#[tokio::test]
async fn list_get_and_delete_show_and_remove_functions() {
    let gw = Gateway::builder().start().await.unwrap();
    gw.deploy("b-fn", guests::HTTP_HELLO).await.unwrap();
    gw.deploy_with_manifest(
        "a-fn",
        guests::HTTP_HELLO,
        "[http]\nroutes = [\"/a\"]\n[scale]\nmax_concurrency = 7",
    )
    .await
    .unwrap();
    let functions = gw.functions().await.unwrap();
    let names: Vec<&str> = functions
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a-fn", "b-fn"]);
    let one = gw.function("a-fn").await.unwrap();
    assert_eq!(one["state"], "cold");
    assert_eq!(one["instances"], 0);
    assert_eq!(one["manifest"]["scale"]["max_concurrency"], 7);
    assert_eq!(
        one["routes"],
        serde_json::json!(["/fn/a-fn", "/fn/a-fn/{*path}", "/a"])
    );
    assert!(one["deployed_at"].as_str().unwrap().ends_with('Z'));

    let deleted = gw
        .client()
        .delete(gw.url("/functions/a-fn"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let gone = gw
        .client()
        .get(gw.url("/functions/a-fn"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(gone).await, (404, "function_not_found".into()));
    let invoke = gw.client().get(gw.url("/fn/a-fn")).send().await.unwrap();
    assert_eq!(error_code(invoke).await, (404, "function_not_found".into()));
    let route = gw.client().get(gw.url("/a")).send().await.unwrap();
    assert_eq!(error_code(route).await, (404, "not_found".into()));
    let again = gw
        .client()
        .delete(gw.url("/functions/a-fn"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(again).await, (404, "function_not_found".into()));
}

/// Deploys `hello`, then checks a refused request left it serving exactly as before.
async fn assert_unchanged(gw: &Gateway, digest: &Value) {
    let now = gw.function("hello").await.unwrap();
    assert_eq!(&now["digest"], digest);
    let text = gw.get_text("/fn/hello").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
}

#[tokio::test]
async fn bad_deploys_get_their_error_code_and_change_nothing() {
    let gw = Gateway::builder()
        .config_toml("max_module_size = \"1MiB\"")
        .start()
        .await
        .unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    let digest = gw.function("hello").await.unwrap()["digest"].clone();
    let put = |ct: &'static str, body: Vec<u8>| {
        gw.client()
            .put(gw.url("/functions/hello"))
            .header("content-type", ct)
            .body(body)
    };
    let cases: Vec<(reqwest::RequestBuilder, u16, &str)> = vec![
        (
            put("application/wasm", b"not wasm".to_vec()),
            422,
            "invalid_component",
        ),
        // A core module is not a component, even when signed.
        (
            put(
                "application/wasm",
                gw.sign_bytes(b"\0asm\x01\0\0\0", "hello", &[]).unwrap(),
            ),
            422,
            "invalid_component",
        ),
        (
            put("text/plain", std::fs::read(guests::HTTP_HELLO).unwrap()),
            415,
            "unsupported_media_type",
        ),
        (
            put("application/wasm", vec![0u8; 2 << 20]),
            413,
            "payload_too_large",
        ),
        (
            put("multipart/form-data; boundary=xyz", b"garbage".to_vec()),
            400,
            "bad_request",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(error_code(response).await, (status, code.to_owned()));
        assert_unchanged(&gw, &digest).await;
    }
    // A multipart body without the module part, and one with a bad manifest.
    let form = reqwest::multipart::Form::new().text("manifest", "");
    let response = gw
        .client()
        .put(gw.url("/functions/hello"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(response).await, (400, "bad_request".into()));
    for manifest in [
        "[scale]\nmax_concurrency = 0",
        "[http]\nroutes = [\"/functions\"]",
        "unknown = 1",
        "[limits]\nmemory = \"lots\"",
    ] {
        let response = gw
            .deploy_with_manifest("hello", guests::HTTP_ECHO, manifest)
            .await
            .unwrap();
        assert_eq!(
            error_code(response).await,
            (400, "invalid_manifest".into()),
            "{manifest}"
        );
    }
    assert_unchanged(&gw, &digest).await;
}

#[tokio::test]
async fn names_that_are_not_dns_labels_are_refused() {
    let gw = Gateway::builder().start().await.unwrap();
    for name in [
        "Hello",
        "-x",
        "x-",
        "1abc",
        "a_b",
        "a.b",
        "fo%D0%BEd",
        &"a".repeat(64),
    ] {
        let response = gw.deploy(name, guests::HTTP_HELLO).await.unwrap();
        assert_eq!(
            error_code(response).await,
            (400, "invalid_name".into()),
            "{name}"
        );
    }
    assert!(gw.functions().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_route_held_by_another_function_is_a_conflict() {
    let gw = Gateway::builder().start().await.unwrap();
    let first = gw
        .deploy_with_manifest(
            "first",
            guests::HTTP_HELLO,
            "[http]\nroutes = [\"/shared\"]",
        )
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let second = gw
        .deploy_with_manifest(
            "second",
            guests::HTTP_ECHO,
            "[http]\nroutes = [\"/shared\"]",
        )
        .await
        .unwrap();
    assert_eq!(error_code(second).await, (409, "route_conflict".into()));
    let missing = gw
        .client()
        .get(gw.url("/functions/second"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let text = gw.get_text("/shared").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
}

#[tokio::test]
async fn a_configured_admin_token_guards_the_admin_api() {
    let token = "configured-admin-token-0123456789abcdef";
    let gw = Gateway::builder().admin_token(token).start().await.unwrap();
    let bytes = gw.sign(guests::HTTP_HELLO, "hello", &[]).unwrap();
    // A client of its own: the harness's sends the admin token on every request.
    let client = reqwest::Client::new();
    let put = |auth: Option<&str>| {
        let req = client
            .put(gw.url("/functions/hello"))
            .header("content-type", "application/wasm")
            .body(bytes.clone());
        match auth {
            Some(a) => req.header("authorization", a),
            None => req,
        }
    };
    assert_eq!(
        error_code(put(None).send().await.unwrap()).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        error_code(put(Some("Bearer wrong")).send().await.unwrap()).await,
        (401, "unauthorized".into())
    );
    assert_eq!(
        put(Some(&format!("Bearer {token}")))
            .send()
            .await
            .unwrap()
            .status(),
        201
    );
    let list = client.get(gw.url("/functions")).send().await.unwrap();
    assert_eq!(list.status(), 401);
    assert!(
        !gw.data_dir().join("admin-token").exists(),
        "a configured token means none is generated"
    );
    // Invocation needs no token.
    let invoked = client.get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(invoked.status(), 200);
}

#[tokio::test]
async fn a_restart_restores_every_function_exactly_as_deployed() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    gw.deploy_with_manifest(
        "echo",
        guests::HTTP_ECHO,
        "[http]\nroutes = [\"/echo/{*rest}\"]\n[limits]\ntimeout = \"5s\"",
    )
    .await
    .unwrap();
    let before = gw.functions().await.unwrap();
    let echo_before = gw.function("echo").await.unwrap();
    gw.restart().await.unwrap();
    let after = gw.functions().await.unwrap();
    assert_eq!(before.len(), 2);
    for (b, a) in before.iter().zip(&after) {
        for key in ["name", "digest", "size", "deployed_at", "routes"] {
            assert_eq!(b[key], a[key], "{key}");
        }
        assert_eq!(a["state"], "cold");
    }
    assert_eq!(
        gw.function("echo").await.unwrap()["manifest"],
        echo_before["manifest"]
    );
    let text = gw.get_text("/fn/hello").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
    let echoed: Value = gw.get_json("/echo/x").await.unwrap();
    assert_eq!(echoed["path_with_query"], "/echo/x");
}

#[tokio::test]
async fn the_same_code_under_another_name_reuses_its_artifact_and_survives_the_first_going() {
    let gw = Gateway::builder().start().await.unwrap();
    let first: Value = gw
        .deploy("one", guests::HTTP_HELLO)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first["artifact_reused"], false);
    let second: Value = gw
        .deploy("two", guests::HTTP_HELLO)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["artifact_reused"], true, "{second}");
    assert_eq!(second["compile_ms"], 0.0);
    assert_ne!(
        first["digest"], second["digest"],
        "signed for different names"
    );
    // Different code compiles anew.
    let echo: Value = gw
        .deploy("three", guests::HTTP_ECHO)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(echo["artifact_reused"], false);

    let deleted = gw
        .client()
        .delete(gw.url("/functions/one"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    let text = gw.get_text("/fn/two").await.unwrap();
    assert_eq!(text, "hello from wasmgate\n");
    let mut gw = gw;
    gw.restart().await.unwrap();
    let text = gw.get_text("/fn/two").await.unwrap();
    assert_eq!(
        text, "hello from wasmgate\n",
        "the shared artifact was kept on disk"
    );
}
