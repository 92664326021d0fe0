use super::*;
use crate::admin::upload::Upload;
use std::time::Duration;
use wasm_encoder::{
    Component, ComponentExportKind, ComponentExportSection, ComponentInstanceSection,
};
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::{PoolSettings, Settings};

/// The smallest component the gateway deploys: an empty instance exported as a message handler.
fn message_handler() -> Vec<u8> {
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
    let mut exports = ComponentExportSection::new();
    exports.export(
        "wasi:messaging/incoming-handler@0.2.0-draft",
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

async fn gateway(data_dir: &std::path::Path, key: &SigningKey) -> Arc<Gateway> {
    let defaults = Settings::default();
    let settings = Settings {
        data_dir: data_dir.to_owned(),
        trusted_issuers: vec![key.issuer().to_string()],
        pool: PoolSettings {
            instances: 4,
            ..defaults.pool.clone()
        },
        ..defaults
    };
    Gateway::open(settings).await.unwrap()
}

fn artifacts(data_dir: &std::path::Path) -> usize {
    std::fs::read_dir(data_dir.join("artifacts"))
        .unwrap()
        .count()
}

#[tokio::test]
async fn a_deploy_refused_after_compiling_leaves_no_artifact_behind() {
    // Found by the admin fuzz target: a `[config]` variable that is not set is only noticed after
    // the compile, and the artifact stayed on disk although nothing was deployed.
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate();
    let gw = gateway(dir.path(), &key).await;
    // The `[config]` value reads the environment, so its manifest is signed with the component.
    let unset = "[config]\nk = { env = \"GATEWAY_TEST_SURELY_UNSET_VARIABLE_X\" }\n";
    let upload = |manifest: &str| {
        let opts = SignOptions {
            name: "hello".into(),
            expires_in: Some(Duration::from_secs(3600)),
            manifest: Some(manifest.as_bytes().to_vec()),
            ..SignOptions::default()
        };
        let module =
            wasmgate_claims::sign(&message_handler(), &key, &opts, SystemTime::now()).unwrap();
        Upload {
            module: bytes::Bytes::from(module),
            manifest: Some(manifest.to_owned()),
        }
    };
    let name: FunctionName = "hello".parse().unwrap();

    let refused = deploy_upload(&gw, name.clone(), upload(unset), false).await;
    let Err(refused) = refused else {
        panic!("an unset variable refuses the deploy");
    };
    assert_eq!(refused.classify().1, "invalid_manifest");
    assert_eq!(
        artifacts(dir.path()),
        0,
        "the refused deploy left its artifact"
    );

    let deployed = deploy_upload(&gw, name.clone(), upload(""), false)
        .await
        .unwrap();
    assert_eq!(deployed.status(), StatusCode::CREATED);
    assert_eq!(artifacts(dir.path()), 1);
    // Refused again, now beside a deployed version that uses the same artifact: it stays.
    let refused = deploy_upload(&gw, name, upload(unset), false).await;
    assert!(refused.is_err());
    assert_eq!(
        artifacts(dir.path()),
        1,
        "the deployed version lost its artifact"
    );
}
