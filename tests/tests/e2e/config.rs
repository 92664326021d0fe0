//! `wasi:config`: manifest values and environment secrets reach a granted guest, secrets never
//! appear in API responses or logs, and only variables the operator allows (`[secrets] env`)
//! are readable, refused alike whether or not they exist, at deploy and at restore.

use crate::error_code;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

crate::covers!(caps_config);

const SECRET: &str = "s3cret-value-71";
const MANIFEST: &str =
    "[config]\ngreeting = \"hi there\"\ndb_password = { env = \"WG_TEST_DB_PASSWORD\" }\n";
/// Settings allowing the tests' variables.
const ALLOW_TEST_VARS: &str = "[secrets]\nenv = [\"WG_TEST_*\"]\n";

async fn deploy(
    gw: &Gateway,
    name: &str,
    caps: &[Capability],
    manifest: &str,
) -> reqwest::Response {
    gw.deploy_granted(name, guests::CAPS_CONFIG, caps, manifest)
        .await
        .unwrap()
}

#[tokio::test]
async fn config_values_and_env_secrets_reach_the_guest_and_nowhere_else() {
    let gw = Gateway::builder()
        .env("WG_TEST_DB_PASSWORD", SECRET)
        .config_toml(ALLOW_TEST_VARS)
        .capture_logs()
        .start()
        .await
        .unwrap();
    let response = deploy(&gw, "cfg", &[Capability::Config], MANIFEST).await;
    let deployed = response.text().await.unwrap();
    assert!(!deployed.contains(SECRET), "{deployed}");

    let get = async |path: &str| gw.get_text(path).await.unwrap();
    assert_eq!(get("/fn/cfg?key=greeting").await, "hi there");
    assert_eq!(get("/fn/cfg?key=db_password").await, SECRET);
    assert_eq!(get("/fn/cfg?key=missing").await, "<none>");
    assert_eq!(
        get("/fn/cfg").await,
        format!("db_password={SECRET}\ngreeting=hi there\n")
    );

    let described = get("/functions/cfg").await;
    assert!(described.contains("WG_TEST_DB_PASSWORD"), "{described}");
    assert!(!described.contains(SECRET), "{described}");
    let listed = get("/functions").await;
    assert!(!listed.contains(SECRET));
    assert!(
        gw.logs().iter().all(|l| !l.contains(SECRET)),
        "a log line shows the secret"
    );

    // The restored function reads the variable again.
    let mut gw = gw;
    gw.restart().await.unwrap();
    assert_eq!(
        gw.get_text("/fn/cfg?key=db_password").await.unwrap(),
        SECRET
    );
}

#[tokio::test]
async fn config_needs_its_grant_and_every_secret_it_names() {
    let gw = Gateway::builder()
        .config_toml(ALLOW_TEST_VARS)
        .start()
        .await
        .unwrap();
    let response = deploy(&gw, "cfg", &[], "[config]\na = \"b\"\n").await;
    assert_eq!(
        error_code(response).await,
        (403, "capability_not_granted".into())
    );
    let response = deploy(&gw, "cfg", &[Capability::Config], MANIFEST).await;
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str().unwrap()),
        (400, "invalid_manifest")
    );
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("WG_TEST_DB_PASSWORD"), "{message}");
    assert_eq!(
        gw.function("cfg").await.unwrap()["error"]["code"],
        "function_not_found"
    );
}

/// The status and body of deploying [`MANIFEST`] to a gateway allowing `APP_*` only, whose
/// environment has `WG_TEST_DB_PASSWORD` when `present`.
async fn refused_deploy(present: bool) -> (u16, String) {
    let mut builder = Gateway::builder().config_toml("[secrets]\nenv = [\"APP_*\"]\n");
    if present {
        builder = builder.env("WG_TEST_DB_PASSWORD", SECRET);
    }
    let gw = builder.start().await.unwrap();
    let response = deploy(&gw, "cfg", &[Capability::Config], MANIFEST).await;
    let answer = (response.status().as_u16(), response.text().await.unwrap());
    assert_eq!(
        gw.function("cfg").await.unwrap()["error"]["code"],
        "function_not_found"
    );
    answer
}

#[tokio::test]
async fn a_variable_outside_the_allow_list_is_refused_alike_whether_or_not_it_exists() {
    let (status, existing) = refused_deploy(true).await;
    let (_, missing) = refused_deploy(false).await;
    assert_eq!(
        existing, missing,
        "the answer tells whether the variable exists"
    );
    assert_eq!(status, 400);
    let body: serde_json::Value = serde_json::from_str(&existing).unwrap();
    assert_eq!(body["error"]["code"], "invalid_manifest");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("[secrets] env"), "{message}");
    assert!(!existing.contains(SECRET));
}

#[tokio::test]
async fn nothing_is_readable_by_default_and_the_gateways_own_variables_never_are() {
    let gw = Gateway::builder()
        .env("WG_TEST_DB_PASSWORD", SECRET)
        .start()
        .await
        .unwrap();
    let response = deploy(&gw, "cfg", &[Capability::Config], MANIFEST).await;
    assert_eq!(error_code(response).await, (400, "invalid_manifest".into()));

    let gw = Gateway::builder()
        .config_toml("[secrets]\nenv = [\"WASM*\", \"wasm*\"]\n")
        .env("WASMGATE_LOG_FORMAT", "human")
        .env("wasmgate_lower", SECRET)
        .start()
        .await
        .unwrap();
    for name in ["WASMGATE_LOG_FORMAT", "wasmgate_lower"] {
        let manifest = format!("[config]\nv = {{ env = \"{name}\" }}\n");
        let response = deploy(&gw, "cfg", &[Capability::Config], &manifest).await;
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, 400, "{name}: {body}");
        assert!(!body.contains(SECRET), "{body}");
        assert_eq!(
            gw.function("cfg").await.unwrap()["error"]["code"],
            "function_not_found",
            "{name} was readable"
        );
    }
}

#[tokio::test]
async fn a_function_whose_variable_is_no_longer_allowed_is_not_restored() {
    let data = tempfile::tempdir().unwrap();
    let gw = Gateway::builder()
        .data_dir(data.path())
        .env("WG_TEST_DB_PASSWORD", SECRET)
        .config_toml(ALLOW_TEST_VARS)
        .start()
        .await
        .unwrap();
    let response = deploy(&gw, "cfg", &[Capability::Config], MANIFEST).await;
    assert_eq!(response.status(), 201);
    let issuer = gw.key().issuer().to_string();
    drop(gw);

    let gw = Gateway::builder()
        .data_dir(data.path())
        .env("WG_TEST_DB_PASSWORD", SECRET)
        .arg("--trust")
        .arg(&issuer)
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.function("cfg").await.unwrap()["error"]["code"],
        "function_not_found"
    );
    let response = gw.client().get(gw.url("/fn/cfg")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(!response.text().await.unwrap().contains(SECRET));
}
