//! Quotas end to end: functions per node and stored artifact bytes refuse a deploy with `507
//! quota_exceeded` naming the key and change nothing; key-value bytes per function refuse a
//! guest's write with the error it expects and write nothing, exactly across restarts, on both
//! backends; a subscription's backlog refuses a publish with `503 backlog_full` and
//! `Retry-After`, and every message accepted before it is still delivered.

use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, RedisServer, guests};

/// The JSON error of a refused request, with its status.
async fn refusal(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

/// Asserts that the scrape has exactly this sample line.
fn has_line(metrics: &str, line: &str) {
    assert!(
        metrics.lines().any(|l| l == line),
        "missing `{line}` in:\n{}",
        metrics
            .lines()
            .filter(|l| l.starts_with("wasmgate_quota"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Names of the deployed functions, sorted.
async fn names(gw: &Gateway) -> Vec<String> {
    gw.functions()
        .await
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_new_function_past_max_functions_is_refused_with_507_and_a_replacement_is_not() {
    let gw = Gateway::builder()
        .config_toml("[quotas]\nmax_functions = 2\n")
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.deploy("a", guests::HTTP_HELLO).await.unwrap().status(),
        201
    );
    assert_eq!(
        gw.deploy("b", guests::HTTP_ECHO).await.unwrap().status(),
        201
    );

    let (status, error) = refusal(gw.deploy("c", guests::HTTP_HELLO).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (507, Some("quota_exceeded"))
    );
    assert_eq!(error["quota"], "quotas.max_functions", "{error}");
    assert_eq!(
        (error["used"].as_u64(), error["limit"].as_u64()),
        (Some(2), Some(2))
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("delete a function"),
        "{error}"
    );
    assert_eq!(names(&gw).await, ["a", "b"], "nothing deployed");

    // Replacing a deployed name is not a new function.
    assert_eq!(
        gw.deploy("a", guests::HTTP_ECHO).await.unwrap().status(),
        200
    );
    // Room again once one is deleted.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        gw.deploy("c", guests::HTTP_HELLO).await.unwrap().status(),
        201
    );

    let metrics = gw.metrics().await.unwrap();
    has_line(
        &metrics,
        "wasmgate_quota_refusals_total{quota=\"max_functions\"} 1",
    );
    has_line(&metrics, "wasmgate_quota_used{quota=\"max_functions\"} 2");
    has_line(&metrics, "wasmgate_quota_limit{quota=\"max_functions\"} 2");
}

/// Bytes of each artifact file in `gw`'s store, sorted.
/// The sizes of the stored blobs `quotas.max_stored_bytes` counts: precompiled artifacts and
/// signed originals, sorted.
fn artifact_sizes(gw: &Gateway) -> Vec<u64> {
    let mut sizes: Vec<u64> = ["artifacts", "originals"]
        .into_iter()
        .flat_map(|dir| std::fs::read_dir(gw.data_dir().join(dir)).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    sizes.sort();
    sizes
}

#[tokio::test]
async fn a_deploy_past_max_stored_bytes_is_refused_with_507_its_artifact_removed_and_the_old_version_serving()
 {
    // The artifacts' sizes, measured on a node without a tight quota.
    let (hello, echo) = {
        let gw = Gateway::builder().start().await.unwrap();
        assert_eq!(
            gw.deploy("h", guests::HTTP_HELLO).await.unwrap().status(),
            201
        );
        let hello = artifact_sizes(&gw).iter().sum::<u64>();
        assert_eq!(
            gw.deploy("e", guests::HTTP_ECHO).await.unwrap().status(),
            201
        );
        let echo = artifact_sizes(&gw).iter().sum::<u64>() - hello;
        (hello, echo)
    };
    // Room for either artifact, not for both (with slack for the bytes a signature changes).
    let quota = hello.max(echo) + hello.min(echo) / 2;
    // One version kept per name: the quota counts live versions, and versions kept for rollback
    // would stay on disk beside them.
    let gw = Gateway::builder()
        .config_toml(&format!(
            "[quotas]\nmax_stored_bytes = \"{quota}\"\n[versions]\nkeep = 1\n"
        ))
        .start()
        .await
        .unwrap();
    assert_eq!(
        gw.deploy("a", guests::HTTP_HELLO).await.unwrap().status(),
        201
    );
    let stored = artifact_sizes(&gw);

    let (status, error) = refusal(gw.deploy("b", guests::HTTP_ECHO).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (507, Some("quota_exceeded"))
    );
    assert_eq!(error["quota"], "quotas.max_stored_bytes", "{error}");
    assert_eq!(error["limit"].as_u64(), Some(quota));
    assert!(error["used"].as_u64().unwrap() > quota, "{error}");
    assert_eq!(names(&gw).await, ["a"]);
    assert_eq!(
        artifact_sizes(&gw),
        stored,
        "the refused artifact is removed"
    );

    // The same code under another name shares the stored artifact: only its own signed original
    // (signed for `c`) is stored beside it.
    assert_eq!(
        gw.deploy("c", guests::HTTP_HELLO).await.unwrap().status(),
        201
    );
    let stored = artifact_sizes(&gw);
    // Replacing `a` with other code while `c` keeps the old artifact would store both.
    let (status, error) = refusal(gw.deploy("a", guests::HTTP_ECHO).await.unwrap()).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (507, Some("quota_exceeded"))
    );
    let served = gw.get_text("/fn/a").await.unwrap();
    assert_eq!(
        served, "hello from wasmgate\n",
        "the old version keeps serving"
    );
    assert_eq!(artifact_sizes(&gw), stored);

    // Once `c` is gone, the replacement frees what it takes the place of.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/c"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        gw.deploy("a", guests::HTTP_ECHO).await.unwrap().status(),
        200
    );
    let now: u64 = artifact_sizes(&gw).iter().sum();

    let metrics = gw.metrics().await.unwrap();
    has_line(
        &metrics,
        "wasmgate_quota_refusals_total{quota=\"max_stored_bytes\"} 2",
    );
    has_line(
        &metrics,
        &format!("wasmgate_quota_used{{quota=\"max_stored_bytes\"}} {now}"),
    );
    has_line(
        &metrics,
        &format!("wasmgate_quota_limit{{quota=\"max_stored_bytes\"}} {quota}"),
    );
}

/// `method` on `path` of a `caps_kv` function with `body`: its status and text.
async fn kv(gw: &Gateway, method: reqwest::Method, path: &str, body: Vec<u8>) -> (u16, String) {
    let response = gw
        .client()
        .request(method, gw.url(path))
        .body(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// What `GET /functions/{name}` reports as the function's key-value bytes.
async fn kv_bytes(gw: &Gateway, name: &str) -> u64 {
    gw.function(name).await.unwrap()["kv_bytes"]
        .as_u64()
        .unwrap()
}

/// The key-value quota checks every backend must pass, with `quotas.max_kv_bytes = "1KiB"`.
async fn kv_quota_suite(gw: &mut Gateway) {
    use reqwest::Method;
    for name in ["a", "b"] {
        let response = gw
            .deploy_granted(name, guests::CAPS_KV, &[Capability::Keyvalue], "")
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
    }
    assert_eq!(kv(gw, Method::PUT, "/fn/a/s/k1", vec![1; 600]).await.0, 200);
    assert_eq!(kv_bytes(gw, "a").await, 602, "key and value");

    let (status, text) = kv(gw, Method::PUT, "/fn/a/t/k2", vec![2; 600]).await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("key-value quota exceeded"), "{text}");
    assert!(text.contains("quotas.max_kv_bytes"), "{text}");
    assert_eq!(
        kv(gw, Method::GET, "/fn/a/t/k2", vec![]).await.0,
        404,
        "nothing written"
    );
    assert_eq!(kv_bytes(gw, "a").await, 602);

    // Another function has a quota of its own.
    assert_eq!(kv(gw, Method::PUT, "/fn/b/s/k2", vec![2; 600]).await.0, 200);
    // Growing within the quota works; deleting gives the bytes back.
    assert_eq!(
        kv(gw, Method::PUT, "/fn/a/s/k1", vec![1; 1000]).await.0,
        200
    );
    assert_eq!(kv_bytes(gw, "a").await, 1002);
    assert_eq!(kv(gw, Method::DELETE, "/fn/a/s/k1", vec![]).await.0, 200);
    assert_eq!(kv_bytes(gw, "a").await, 0);
    assert_eq!(kv(gw, Method::PUT, "/fn/a/t/k2", vec![2; 600]).await.0, 200);

    let metrics = gw.metrics().await.unwrap();
    has_line(
        &metrics,
        "wasmgate_quota_refusals_total{quota=\"max_kv_bytes\"} 1",
    );
    has_line(
        &metrics,
        "wasmgate_quota_limit{quota=\"max_kv_bytes\"} 1024",
    );

    // The count is kept with the data: the same after a restart, and still enforced.
    gw.restart().await.unwrap();
    assert_eq!(kv_bytes(gw, "a").await, 602);
    assert_eq!(kv_bytes(gw, "b").await, 602);
    assert_eq!(kv(gw, Method::PUT, "/fn/a/s/k3", vec![3; 500]).await.0, 500);
}

#[tokio::test]
async fn a_guest_write_past_max_kv_bytes_fails_with_its_keyvalue_error_and_writes_nothing() {
    let mut gw = Gateway::builder()
        .config_toml("[quotas]\nmax_kv_bytes = \"1KiB\"\n")
        .start()
        .await
        .unwrap();
    kv_quota_suite(&mut gw).await;
}

#[tokio::test]
async fn the_redis_store_enforces_max_kv_bytes_the_same_way() {
    let redis = RedisServer::start().await.unwrap();
    let mut gw = Gateway::builder()
        .config_toml(&format!(
            "[quotas]\nmax_kv_bytes = \"1KiB\"\n[kv]\nbackend = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ))
        .start()
        .await
        .unwrap();
    kv_quota_suite(&mut gw).await;
}

/// `POST /publish/{subject}` with `body`; when `pad` is not 0, as a CloudEvent (binary mode)
/// with an extension `ce-pad` of `pad` bytes, so its metadata weighs on the backlog.
async fn publish(gw: &Gateway, subject: &str, body: &str, pad: usize) -> reqwest::Response {
    let mut request = gw
        .client()
        .post(gw.url(&format!("/publish/{subject}")))
        .body(body.to_owned());
    if pad > 0 {
        request = request
            .header("ce-specversion", "1.0")
            .header("ce-id", uuid::Uuid::new_v4().to_string())
            .header("ce-source", "/quotas")
            .header("ce-type", "padded")
            .header("ce-pad", "p".repeat(pad));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_publish_past_a_subscribers_backlog_gets_503_with_retry_after_and_nothing_accepted_is_dropped()
 {
    let gw = Gateway::builder()
        .config_toml(
            "[quotas]\nmax_backlog_messages = 3\nmax_backlog_bytes = \"1KiB\"\n[events]\nmax_attempts = 2\nbackoff = \"2s\"\n",
        )
        .start()
        .await
        .unwrap();
    let caps = [Capability::Keyvalue, Capability::Messaging];
    let response = gw
        .deploy_granted(
            "sink",
            guests::CAPS_EVENTS,
            &caps,
            "[[triggers]]\nsubject = \"slow.>\"\n[messaging]\npublish = [\"slow.>\"]\n",
        )
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    // A message no backlog could ever hold: 413, not a retry.
    let (status, error) = refusal(publish(&gw, "slow.big", &"x".repeat(2048), 0).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("message_too_large"))
    );

    // `fail` messages are refused by the guest and wait 2 s for their retry: they stay in the
    // subscription's backlog meanwhile.
    assert_eq!(publish(&gw, "slow.f1", "fail", 600).await.status(), 202);
    let response = publish(&gw, "slow.f2", "fail", 600).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, error) = refusal(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (503, Some("backlog_full"))
    );
    assert_eq!(error["quota"], "quotas.max_backlog_bytes", "{error}");
    assert_eq!(publish(&gw, "slow.f2", "fail", 0).await.status(), 202);
    assert_eq!(publish(&gw, "slow.f3", "fail", 0).await.status(), 202);
    let response = publish(&gw, "slow.f4", "fail", 0).await;
    assert_eq!(response.headers()["retry-after"], "1");
    let (status, error) = refusal(response).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (503, Some("backlog_full"))
    );
    assert_eq!(error["quota"], "quotas.max_backlog_messages", "{error}");
    assert_eq!(
        (error["used"].as_u64(), error["limit"].as_u64()),
        (Some(3), Some(3))
    );
    // A guest's publish gets the messaging error it expects, naming the quota.
    let sent = gw
        .client()
        .post(gw.url("/fn/sink/send/slow.from-guest"))
        .body("from guest")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 500);
    let text = sent.text().await.unwrap();
    assert!(text.contains("quotas.max_backlog_messages"), "{text}");

    // Once the subscriber catches up, a retry is accepted and delivered.
    let client = gw.client().clone();
    let url = gw.url("/publish/slow.after");
    wasmgate_tests::eventually(
        "the backlog drained",
        crate::DEADLINE,
        || {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let response = client.post(url).body("slow.after").send().await.unwrap();
                response.status()
            }
        },
        |status| *status == 202,
    )
    .await
    .unwrap();
    crate::wait_until_handled(&gw, "sink", "slow.after").await;
    // Every accepted message was delivered, each attempt of it.
    for topic in ["slow.f1", "slow.f2", "slow.f3"] {
        let tries = gw
            .get_text(&format!("/fn/sink/count/{topic}"))
            .await
            .unwrap();
        assert_eq!(tries, "2", "{topic}");
    }
    assert_eq!(
        gw.get_text("/fn/sink/count/slow.f4").await.unwrap(),
        "0",
        "the refused one was not accepted"
    );

    let metrics = gw.metrics().await.unwrap();
    has_line(
        &metrics,
        "wasmgate_quota_refusals_total{quota=\"max_backlog_bytes\"} 1",
    );
    has_line(
        &metrics,
        "wasmgate_quota_limit{quota=\"max_backlog_messages\"} 3",
    );
    let refused = wasmgate_tests::metric_sample(
        &metrics,
        "wasmgate_quota_refusals_total",
        &[("quota", "max_backlog_messages")],
    );
    assert!(refused.unwrap() >= 2.0, "the publish and the guest's send");
}
