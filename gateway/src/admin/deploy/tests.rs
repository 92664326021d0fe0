use super::*;
use crate::admin::upload::Upload;
use crate::test_fixtures::{gateway, message_handler};
use std::time::Duration;
use wasmgate_claims::{SignOptions, SigningKey};

fn artifacts(data_dir: &std::path::Path) -> usize {
    files(data_dir, "artifacts")
}

fn files(data_dir: &std::path::Path, folder: &str) -> usize {
    std::fs::read_dir(data_dir.join(folder)).unwrap().count()
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

    let refused = deploy_upload(&gw, name.clone(), upload(unset), false, None).await;
    let Err(refused) = refused else {
        panic!("an unset variable refuses the deploy");
    };
    assert_eq!(refused.classify().1, "invalid_manifest");
    assert_eq!(
        artifacts(dir.path()),
        0,
        "the refused deploy left its artifact"
    );
    assert_eq!(
        files(dir.path(), "originals"),
        0,
        "the refused deploy left its original"
    );

    let deployed = deploy_upload(&gw, name.clone(), upload(""), false, None)
        .await
        .unwrap();
    assert_eq!(deployed.status(), StatusCode::CREATED);
    assert_eq!(artifacts(dir.path()), 1);
    assert_eq!(files(dir.path(), "originals"), 1);
    // Refused again, now beside a deployed version that uses the same artifact: it stays.
    let refused = deploy_upload(&gw, name, upload(unset), false, None).await;
    assert!(refused.is_err());
    assert_eq!(
        artifacts(dir.path()),
        1,
        "the deployed version lost its artifact"
    );
    assert_eq!(
        files(dir.path(), "originals"),
        1,
        "the deployed version lost its original"
    );
}
