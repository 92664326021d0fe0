//! `wasi:keyvalue` end to end: a granted guest keeps state that survives restarts, counters are
//! atomic under parallel requests, each function's buckets are its own, shared buckets need the
//! grant in both manifests, and the Redis backend serves the same.

use crate::error_code;
use futures::future::join_all;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, RedisServer, guests};

crate::covers!(caps_kv);

async fn deploy(gw: &Gateway, name: &str, manifest: &str) {
    let response = gw
        .deploy_granted(name, guests::CAPS_KV, &[Capability::Keyvalue], manifest)
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{}",
        response.text().await.unwrap()
    );
}

async fn call(gw: &Gateway, method: reqwest::Method, path: &str, body: &str) -> (u16, String) {
    let response = gw
        .client()
        .request(method, gw.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The checks every backend must pass.
async fn suite(gw: &mut Gateway, backend: &str) {
    use reqwest::Method;
    deploy(gw, "a", "[keyvalue]\nshared = [\"orders\"]\n").await;
    deploy(gw, "b", "[keyvalue]\nshared = [\"orders\"]\n").await;
    deploy(gw, "c", "").await;

    assert_eq!(
        call(gw, Method::PUT, "/fn/a/state/k", "from a").await,
        (200, "ok".into())
    );
    assert_eq!(
        call(gw, Method::GET, "/fn/a/state/k", "").await,
        (200, "from a".into())
    );
    // Another function's bucket of the same name is its own.
    assert_eq!(
        call(gw, Method::GET, "/fn/b/state/k", "").await,
        (404, "<none>".into())
    );
    // A shared bucket is one for every function granted it, and private for the others.
    assert_eq!(
        call(gw, Method::PUT, "/fn/a/orders/o1", "shared!").await.0,
        200
    );
    assert_eq!(
        call(gw, Method::GET, "/fn/b/orders/o1", "").await,
        (200, "shared!".into())
    );
    assert_eq!(call(gw, Method::GET, "/fn/c/orders/o1", "").await.0, 404);

    // 100 parallel increments: every one counted once.
    let increments = (0..100).map(|_| call(gw, Method::POST, "/fn/a/counters/hits", ""));
    let results = join_all(increments).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    let mut seen: Vec<u64> = results.iter().map(|(_, n)| n.parse().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (1..=100).collect::<Vec<u64>>());
    assert_eq!(
        call(gw, Method::GET, "/fn/a/counters/hits", "").await,
        (200, "100".into())
    );

    // The empty identifier (wasmtime serve's one store) is the bucket `default` (Spin's).
    for n in ["1", "2"] {
        assert_eq!(
            call(gw, Method::POST, "/fn/a//visits", "").await,
            (200, n.into())
        );
    }
    assert_eq!(
        call(gw, Method::GET, "/fn/a/default/visits", "").await,
        (200, "2".into())
    );

    // A listing cursor goes on after the last key listed, across calls: deleting keys already
    // listed (k00000..k00499) hides none of the rest (k01000..k01499 were lost to an offset).
    assert_eq!(
        call(gw, Method::PUT, "/fn/a/pages/?fill=1500", "").await,
        (200, "filled 1500".into())
    );
    let (status, first) = call(gw, Method::GET, "/fn/a/pages/?list", "").await;
    assert_eq!(status, 200, "{first}");
    let (mut cursor, keys) = first.split_once('\n').unwrap();
    let mut listed: Vec<String> = keys.lines().map(str::to_owned).collect();
    assert_eq!(
        call(gw, Method::DELETE, "/fn/a/pages/?drop=0-499", "").await,
        (200, "dropped 500".into())
    );
    let mut pages;
    while cursor != "-" {
        let (status, page) =
            call(gw, Method::GET, &format!("/fn/a/pages/?list={cursor}"), "").await;
        assert_eq!(status, 200, "{page}");
        pages = page;
        let (next, keys) = pages.split_once('\n').unwrap();
        listed.extend(keys.lines().map(str::to_owned));
        cursor = next;
        assert!(listed.len() <= 3000, "the listing does not end");
    }
    for i in 500..1500 {
        let key = format!("k{i:05}");
        assert_eq!(listed.iter().filter(|l| **l == key).count(), 1, "{key}");
    }
    // A cursor goes on once; a used or made-up one gets the guest an error, not a wrong page.
    let (status, text) = call(gw, Method::GET, "/fn/a/pages/?list=999999", "").await;
    assert_eq!(status, 500, "{text}");
    assert!(text.contains("unknown list-keys cursor"), "{text}");

    assert_eq!(call(gw, Method::DELETE, "/fn/a/state/k", "").await.0, 200);
    assert_eq!(call(gw, Method::GET, "/fn/a/state/k", "").await.0, 404);
    // A bucket name the scope refuses (over 128 bytes): access-denied, nothing opened.
    let long = format!("/fn/a/{}/k", "x".repeat(200));
    let (status, text) = call(gw, Method::GET, &long, "").await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("AccessDenied"), "{text}");

    // Every guest operation was counted, under the backend's name.
    let metrics = gw.metrics().await.unwrap();
    let count = |op: &str| {
        metrics
            .lines()
            .find(|l| {
                l.starts_with("wasmgate_kv_operations_total{")
                    && l.contains(&format!("op=\"{op}\""))
                    && l.contains(&format!("backend=\"{backend}\""))
            })
            .and_then(|l| l.rsplit_once(' ')?.1.parse::<u64>().ok())
    };
    assert_eq!(count("increment"), Some(102), "{metrics}");
    assert_eq!(count("set"), Some(2));
    assert_eq!(count("delete"), Some(1));
    // Seven reads reached a bucket; the eighth was refused at open.
    assert_eq!(count("get"), Some(7));

    // Acknowledged writes survive a crash.
    gw.restart().await.unwrap();
    assert_eq!(
        call(gw, Method::GET, "/fn/a/counters/hits", "").await,
        (200, "100".into())
    );
    assert_eq!(
        call(gw, Method::GET, "/fn/b/orders/o1", "").await,
        (200, "shared!".into())
    );
}

#[tokio::test]
async fn the_embedded_store_keeps_state_per_function_atomically_and_durably() {
    let mut gw = Gateway::builder().start().await.unwrap();
    suite(&mut gw, "redb").await;
}

#[tokio::test]
async fn the_redis_store_passes_the_same_suite() {
    let redis = RedisServer::start().await.unwrap();
    let mut gw = Gateway::builder()
        .config_toml(&format!(
            "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ))
        .start()
        .await
        .unwrap();
    suite(&mut gw, "redis").await;
}

#[tokio::test]
async fn keyvalue_needs_its_grant() {
    let gw = Gateway::builder().start().await.unwrap();
    let response = gw.deploy("kv", guests::CAPS_KV).await.unwrap();
    let (status, code) = error_code(response).await;
    assert_eq!((status, code.as_str()), (403, "capability_not_granted"));
}
