//! Quotas end to end: functions per node and stored artifact bytes refuse a deploy with `507
//! quota_exceeded` naming the key and change nothing; key-value bytes per function refuse a
//! guest's write with the error it expects and write nothing, exactly across restarts, on both
//! backends; a subscription's backlog refuses a publish with `503 backlog_full` and
//! `Retry-After`, and every message accepted before it is still delivered.

use wasmgate_tests::{Gateway, guests};

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
    assert_eq!(gw.deploy("a", guests::HTTP_HELLO).await.unwrap().status(), 201);
    assert_eq!(gw.deploy("b", guests::HTTP_ECHO).await.unwrap().status(), 201);

    let (status, error) = refusal(gw.deploy("c", guests::HTTP_HELLO).await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (507, Some("quota_exceeded")));
    assert_eq!(error["quota"], "quotas.max_functions", "{error}");
    assert_eq!((error["used"].as_u64(), error["limit"].as_u64()), (Some(2), Some(2)));
    assert!(
        error["message"].as_str().unwrap().contains("delete a function"),
        "{error}"
    );
    assert_eq!(names(&gw).await, ["a", "b"], "nothing deployed");

    // Replacing a deployed name is not a new function.
    assert_eq!(gw.deploy("a", guests::HTTP_ECHO).await.unwrap().status(), 200);
    // Room again once one is deleted.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/b"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(gw.deploy("c", guests::HTTP_HELLO).await.unwrap().status(), 201);

    let metrics = gw.metrics().await.unwrap();
    has_line(&metrics, "wasmgate_quota_refusals_total{quota=\"max_functions\"} 1");
    has_line(&metrics, "wasmgate_quota_used{quota=\"max_functions\"} 2");
    has_line(&metrics, "wasmgate_quota_limit{quota=\"max_functions\"} 2");
}

/// Bytes of each artifact file in `gw`'s store, sorted.
fn artifact_sizes(gw: &Gateway) -> Vec<u64> {
    let mut sizes: Vec<u64> = std::fs::read_dir(gw.data_dir().join("artifacts"))
        .unwrap()
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
        assert_eq!(gw.deploy("h", guests::HTTP_HELLO).await.unwrap().status(), 201);
        let hello = artifact_sizes(&gw)[0];
        assert_eq!(gw.deploy("e", guests::HTTP_ECHO).await.unwrap().status(), 201);
        let echo = artifact_sizes(&gw).iter().sum::<u64>() - hello;
        (hello, echo)
    };
    // Room for either artifact, not for both (with slack for the bytes a signature changes).
    let quota = hello.max(echo) + hello.min(echo) / 2;
    let gw = Gateway::builder()
        .config_toml(&format!("[quotas]\nmax_stored_bytes = \"{quota}\"\n"))
        .start()
        .await
        .unwrap();
    assert_eq!(gw.deploy("a", guests::HTTP_HELLO).await.unwrap().status(), 201);
    let stored = artifact_sizes(&gw);

    let (status, error) = refusal(gw.deploy("b", guests::HTTP_ECHO).await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (507, Some("quota_exceeded")));
    assert_eq!(error["quota"], "quotas.max_stored_bytes", "{error}");
    assert_eq!(error["limit"].as_u64(), Some(quota));
    assert!(error["used"].as_u64().unwrap() > quota, "{error}");
    assert_eq!(names(&gw).await, ["a"]);
    assert_eq!(artifact_sizes(&gw), stored, "the refused artifact is removed");

    // The same code under another name shares the stored artifact: no bytes more.
    assert_eq!(gw.deploy("c", guests::HTTP_HELLO).await.unwrap().status(), 201);
    // Replacing `a` with other code while `c` keeps the old artifact would store both.
    let (status, error) = refusal(gw.deploy("a", guests::HTTP_ECHO).await.unwrap()).await;
    assert_eq!((status, error["code"].as_str()), (507, Some("quota_exceeded")));
    let served = gw.get_text("/fn/a").await.unwrap();
    assert_eq!(served, "hello from wasmgate\n", "the old version keeps serving");
    assert_eq!(artifact_sizes(&gw), stored);

    // Once `c` is gone, the replacement frees what it takes the place of.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/c"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(gw.deploy("a", guests::HTTP_ECHO).await.unwrap().status(), 200);
    let now: u64 = artifact_sizes(&gw).iter().sum();

    let metrics = gw.metrics().await.unwrap();
    has_line(&metrics, "wasmgate_quota_refusals_total{quota=\"max_stored_bytes\"} 2");
    has_line(&metrics, &format!("wasmgate_quota_used{{quota=\"max_stored_bytes\"}} {now}"));
    has_line(&metrics, &format!("wasmgate_quota_limit{{quota=\"max_stored_bytes\"}} {quota}"));
}
