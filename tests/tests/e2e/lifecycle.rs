use std::time::Duration;
use wasmgate_tests::{Gateway, eventually, guests, wasmgate_bin};

#[tokio::test]
async fn healthz_and_readyz_answer_200_when_serving() {
    let gw = Gateway::builder().start().await.unwrap();
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            gw.client().get(gw.url(path)).send().await.unwrap().status(),
            200,
            "{path}"
        );
    }
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish_then_exits_0() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();
    let call = tokio::spawn(gw.client().get(gw.url("/fn/slow?ms=1500")).send());
    eventually(
        "the call is running",
        crate::DEADLINE,
        || async {
            gw.function("slow").await.unwrap()["instances"]
                .as_u64()
                .unwrap_or(0)
        },
        |n| *n == 1,
    )
    .await
    .unwrap();
    let status = gw.terminate().await.unwrap();
    assert!(status.success(), "{status:?}");
    let response = call.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "slept 1500");
}

/// Environment variables for one run.
type Env<'a> = Vec<(&'a str, &'a str)>;

async fn exit_code(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut cmd = tokio::process::Command::new(wasmgate_bin());
    cmd.arg("serve").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), cmd.output())
        .await
        .unwrap()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn bad_configuration_exits_64_with_one_line_before_binding() {
    let dir = tempfile::tempdir().unwrap();
    let bad_file = dir.path().join("bad.toml");
    std::fs::write(&bad_file, "no_such_key = 1\n").unwrap();
    let bad_file = bad_file.to_str().unwrap().to_owned();
    let cases: Vec<(Vec<&str>, Env)> = vec![
        (vec!["--listen", "not-an-address"], vec![]),
        (vec!["--config", &bad_file], vec![]),
        (vec!["--config", "/definitely/missing.toml"], vec![]),
        (
            vec!["--listen", "127.0.0.1:0"],
            vec![("WASMGATE_LOG_FORMAT", "xml")],
        ),
        (vec!["--log-format", "yaml"], vec![]),
        (vec!["--no-such-flag"], vec![]),
    ];
    for (args, env) in cases {
        let (code, stderr) = exit_code(&args, &env).await;
        assert_eq!(code, Some(64), "{args:?} {env:?}: {stderr}");
        assert!(!stderr.trim().is_empty());
    }
}
