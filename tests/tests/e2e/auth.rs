//! Who may do what: the admin API and `/metrics` are always authenticated (by a token generated
//! at first start when none is configured), invocation is public unless a manifest lists tokens,
//! and every refusal changes nothing, is counted and is logged with the client's address.

use crate::error_code;
use sha2::{Digest, Sha256};
use wasmgate_tests::{Gateway, guests, metric_sample as sample};

/// A client that holds no credentials: the attacker who can reach the port.
fn anonymous() -> reqwest::Client {
    reqwest::Client::new()
}

async fn status_and_code(response: reqwest::Response) -> (u16, String) {
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, code) = error_code(response).await;
    if status == 401 {
        assert_eq!(challenge.as_deref(), Some("Bearer realm=\"wasmgate\""));
    }
    (status, code)
}

#[tokio::test]
async fn an_anonymous_caller_can_neither_list_delete_redeploy_publish_nor_scrape_a_default_gateway()
{
    let gw = Gateway::builder()
        .generated_admin_token()
        .capture_logs()
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let before = gw.function("hello").await.unwrap()["digest"].clone();
    let anon = anonymous();
    let refused = (401, "unauthorized".to_owned());

    let list = anon.get(gw.url("/functions")).send().await.unwrap();
    assert_eq!(status_and_code(list).await, refused);
    let one = anon.get(gw.url("/functions/hello")).send().await.unwrap();
    assert_eq!(status_and_code(one).await, refused);
    let delete = anon
        .delete(gw.url("/functions/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(delete).await, refused);
    // A still-valid signed component with a manifest of the attacker's choice.
    let signed = gw.sign(guests::HTTP_ECHO, "hello", &[]).unwrap();
    let form = reqwest::multipart::Form::new()
        .part("module", reqwest::multipart::Part::bytes(signed))
        .part(
            "manifest",
            reqwest::multipart::Part::text("[http]\nroutes = [\"/owned\"]\n"),
        );
    let redeploy = anon
        .put(gw.url("/functions/hello"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(redeploy).await, refused);
    let publish = anon
        .post(gw.url("/publish/orders.created"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(publish).await, refused);
    let metrics = anon.get(gw.url("/metrics")).send().await.unwrap();
    assert_eq!(status_and_code(metrics).await, refused);
    let wrong = anon
        .get(gw.url("/functions"))
        .bearer_auth("x".repeat(43))
        .send()
        .await
        .unwrap();
    assert_eq!(status_and_code(wrong).await, refused);

    // Nothing changed: the function serves as before, at the same digest, with no new route.
    assert_eq!(gw.function("hello").await.unwrap()["digest"], before);
    let served = anon.get(gw.url("/fn/hello")).send().await.unwrap();
    assert_eq!(served.text().await.unwrap(), "hello from wasmgate\n");
    let owned = anon.get(gw.url("/owned")).send().await.unwrap();
    assert_eq!(owned.status(), 404);
    assert_eq!(
        anon.get(gw.url("/healthz")).send().await.unwrap().status(),
        200
    );

    // Counted by audience, and logged at warn with the client's address.
    let scrape = gw.metrics().await.unwrap();
    let failures = |audience| {
        sample(
            &scrape,
            "wasmgate_auth_failures_total",
            &[("audience", audience)],
        )
    };
    assert_eq!(failures("admin"), Some(6.0), "{scrape}");
    assert_eq!(failures("metrics"), Some(1.0), "{scrape}");
    let logged = gw
        .logs()
        .iter()
        .filter(|l| {
            l.contains("WARN") && l.contains("authentication failed") && l.contains("127.0.0.1:")
        })
        .count();
    assert_eq!(logged, 7, "{:#?}", gw.logs());
}

/// A script that starts the gateway and waits for its port (the README's quickstart does) must
/// find the admin token then: the port accepts connections only once the gateway is open.
#[tokio::test]
async fn the_port_is_claimed_first_and_accepts_only_once_the_generated_token_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let port = wasmgate_tests::free_port().unwrap();
    let mut child = tokio::process::Command::new(wasmgate_tests::wasmgate_bin())
        .arg("serve")
        .current_dir(dir.path())
        .env("WASMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("WASMGATE_DATA_DIR")
        .env_remove("WASMGATE_ADMIN_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let token = dir.path().join("wasmgate-data").join("admin-token");
    // Poll as tightly as a script can: the first accepted connection must see the token.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the gateway never accepted on {port}"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the gateway exited before serving"
        );
        tokio::task::yield_now().await;
    }
    assert!(
        token.exists(),
        "the port accepted before {} was written",
        token.display()
    );
    // The port is still claimed first: a second gateway on it fails before opening anything.
    let other = tempfile::tempdir().unwrap();
    let second = tokio::process::Command::new(wasmgate_tests::wasmgate_bin())
        .arg("serve")
        .current_dir(other.path())
        .env("WASMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env_remove("WASMGATE_DATA_DIR")
        .env_remove("WASMGATE_ADMIN_TOKEN")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
    assert!(
        !other.path().join("wasmgate-data").exists(),
        "nothing is opened when the port is taken"
    );
    child.kill().await.unwrap();
}

#[tokio::test]
async fn the_first_start_generates_a_private_token_says_where_it_is_and_keeps_it() {
    let mut gw = Gateway::builder()
        .generated_admin_token()
        .start()
        .await
        .unwrap();
    let path = gw.data_dir().join("admin-token");
    let token = gw.admin_token().unwrap().unwrap();
    assert_eq!(token.len(), 43, "32 random bytes in base64url");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let announced = gw.startup_lines().join("\n");
    assert!(
        announced.contains(&path.display().to_string())
            && announced.contains("Authorization: Bearer"),
        "{announced}"
    );
    assert!(
        !announced.contains(&token),
        "the token itself is never printed"
    );
    let listed = gw.client().get(gw.url("/functions")).send().await.unwrap();
    assert_eq!(listed.status(), 200);

    gw.restart().await.unwrap();
    assert_eq!(
        gw.admin_token().unwrap().unwrap(),
        token,
        "the token survives a restart"
    );
    assert!(
        !gw.startup_lines().iter().any(|l| l.contains("generated")),
        "announced only once: {:?}",
        gw.startup_lines()
    );
    let listed = gw.client().get(gw.url("/functions")).send().await.unwrap();
    assert_eq!(listed.status(), 200);
}

/// Runs `wasmgate serve` with `args` and `env` and returns its exit code and stderr; it must
/// refuse to start.
async fn refused_start(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = tokio::process::Command::new(wasmgate_tests::wasmgate_bin());
    cmd.args(["serve", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), cmd.output())
        .await
        .expect("a refused start exits at once")
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn short_tokens_and_an_open_admin_api_off_loopback_are_refused_at_start() {
    let (code, stderr) = refused_start(
        &["--listen", "127.0.0.1:0"],
        &[("WASMGATE_ADMIN_TOKEN", "x")],
    )
    .await;
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("admin_token (WASMGATE_ADMIN_TOKEN) is 1 characters"),
        "{stderr}"
    );

    let (code, stderr) = refused_start(
        &["--listen", "127.0.0.1:0"],
        &[("WASMGATE_METRICS_TOKEN", "short")],
    )
    .await;
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("metrics_token"), "{stderr}");

    let (code, stderr) =
        refused_start(&["--listen", "0.0.0.0:0", "--insecure-open-admin"], &[]).await;
    assert_eq!(code, Some(64), "{stderr}");
    assert!(
        stderr.contains("insecure_open_admin would open the admin API"),
        "{stderr}"
    );

    let (code, stderr) = refused_start(
        &["--listen", "127.0.0.1:0", "--metrics-listen", "0.0.0.0:0"],
        &[],
    )
    .await;
    assert_eq!(code, Some(64), "{stderr}");
    assert!(stderr.contains("set metrics_token"), "{stderr}");
}

#[tokio::test]
async fn only_the_explicit_insecure_option_opens_the_admin_api_and_it_says_so() {
    let gw = Gateway::builder()
        .insecure_open_admin()
        .capture_logs()
        .start()
        .await
        .unwrap();
    assert!(!gw.data_dir().join("admin-token").exists());
    let listed = anonymous().get(gw.url("/functions")).send().await.unwrap();
    assert_eq!(listed.status(), 200);
    assert!(
        gw.logs()
            .iter()
            .any(|l| l.contains("WARN") && l.contains("insecure_open_admin")),
        "{:#?}",
        gw.logs()
    );
}

#[tokio::test]
async fn the_metrics_token_reads_metrics_and_nothing_else() {
    let metrics_token = "metrics-scraper-token-0123456789abcdef";
    let gw = Gateway::builder()
        .env("WASMGATE_METRICS_TOKEN", metrics_token)
        .arg("--metrics-listen")
        .arg("127.0.0.1:0")
        .start()
        .await
        .unwrap();
    let anon = anonymous();
    let scrape = anon
        .get(gw.url("/metrics"))
        .bearer_auth(metrics_token)
        .send()
        .await
        .unwrap();
    assert_eq!(scrape.status(), 200);
    let admin = anon
        .get(gw.url("/functions"))
        .bearer_auth(metrics_token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_and_code(admin).await,
        (401, "unauthorized".to_owned())
    );
    assert_eq!(
        gw.client()
            .get(gw.url("/metrics"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // The loopback metrics listener serves scrapes and probes without a token, and nothing else.
    let line = gw
        .startup_lines()
        .iter()
        .find_map(|l| l.strip_prefix("wasmgate metrics on "))
        .unwrap_or_else(|| panic!("{:?}", gw.startup_lines()))
        .to_owned();
    let scrape = anon.get(&line).send().await.unwrap();
    assert_eq!(scrape.status(), 200);
    assert!(
        scrape
            .text()
            .await
            .unwrap()
            .contains("wasmgate_connections_open")
    );
    let base = line.trim_end_matches("/metrics");
    assert_eq!(
        anon.get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let admin = anon.get(format!("{base}/functions")).send().await.unwrap();
    assert_eq!(admin.status(), 404);
    let invoke = anon.get(format!("{base}/fn/hello")).send().await.unwrap();
    assert_eq!(invoke.status(), 404);
}

#[tokio::test]
async fn a_function_whose_manifest_lists_tokens_serves_only_their_holders_and_admins() {
    let gw = Gateway::builder().start().await.unwrap();
    let caller = "caller-token-of-the-billing-team";
    let digest = hex::encode(Sha256::digest(caller.as_bytes()));
    let manifest =
        format!("[http]\nroutes = [\"/billing\"]\ninvoke_token_sha256 = [\"{digest}\"]\n");
    let deployed = gw
        .deploy_with_manifest("billing", guests::HTTP_HELLO, &manifest)
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    let anon = anonymous();
    for path in ["/fn/billing", "/billing"] {
        let refused = anon.get(gw.url(path)).send().await.unwrap();
        assert_eq!(
            status_and_code(refused).await,
            (401, "unauthorized".to_owned()),
            "{path}"
        );
        let wrong = anon
            .get(gw.url(path))
            .bearer_auth("guess")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path}");
        let ok = anon
            .get(gw.url(path))
            .bearer_auth(caller)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.text().await.unwrap(), "hello from wasmgate\n", "{path}");
    }
    let by_admin = gw.client().get(gw.url("/fn/billing")).send().await.unwrap();
    assert_eq!(by_admin.status(), 200);
    // The manifest shows the digest, never a token.
    let described = gw.function("billing").await.unwrap();
    assert_eq!(
        described["manifest"]["http"]["invoke_token_sha256"][0],
        digest
    );

    let bad = gw
        .deploy_with_manifest(
            "billing",
            guests::HTTP_HELLO,
            "[http]\ninvoke_token_sha256 = [\"not-a-digest\"]\n",
        )
        .await
        .unwrap();
    assert_eq!(error_code(bad).await, (400, "invalid_manifest".to_owned()));
    let scrape = gw.metrics().await.unwrap();
    assert_eq!(
        sample(
            &scrape,
            "wasmgate_auth_failures_total",
            &[("audience", "invoke")]
        ),
        Some(4.0)
    );
}
