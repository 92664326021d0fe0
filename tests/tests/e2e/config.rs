//! `wasi:config`: manifest values and environment secrets reach a granted guest, and secrets never
//! appear in API responses or logs.

use crate::error_code;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

crate::covers!(caps_config);

const SECRET: &str = "s3cret-value-71";
const MANIFEST: &str =
    "[config]\ngreeting = \"hi there\"\ndb_password = { env = \"WG_TEST_DB_PASSWORD\" }\n";

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
    let gw = Gateway::builder().start().await.unwrap();
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
