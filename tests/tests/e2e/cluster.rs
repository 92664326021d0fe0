//! Cluster mode: three real gateway processes, a real `nats-server` with JetStream and a real
//! `redis-server` on loopback (see `wasmgate_tests::ClusterHarness`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use wasmgate_config::Capability;
use wasmgate_tests::{ClusterHarness, Gateway, eventually, guests};

/// Calls `path` on `node` without the admin token; returns status, body and the node that ran it.
async fn call(node: &Gateway, path: &str) -> (u16, String, Option<String>) {
    let response = reqwest::get(node.url(path)).await.unwrap();
    let status = response.status().as_u16();
    let served_by = response
        .headers()
        .get("wasmgate-node")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, response.text().await.unwrap(), served_by)
}

/// The digest `node` serves `name` at, if it has it.
async fn digest_on(node: &Gateway, name: &str) -> Option<String> {
    let response = node
        .client()
        .get(node.url(&format!("/functions/{name}")))
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        return None;
    }
    let body: serde_json::Value = response.json().await.unwrap();
    body["digest"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deploy_on_one_node_serves_on_all_three_and_a_delete_on_another_removes_it_everywhere() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let deployed = a.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    // At once, before any watch could deliver it: read through, or forwarded to its home.
    for node in [b, c] {
        let (status, body, _) = call(node, "/fn/hello").await;
        assert_eq!((status, body.as_str()), (200, "hello from wasmgate\n"));
    }
    let digest = digest_on(a, "hello").await.unwrap();
    for node in [b, c] {
        eventually(
            "the deploy is in every node's registry",
            Duration::from_secs(10),
            || digest_on(node, "hello"),
            |d| d.as_deref() == Some(digest.as_str()),
        )
        .await
        .unwrap();
    }

    let deleted = c
        .client()
        .delete(c.url("/functions/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    for node in [a, b, c] {
        eventually(
            "the delete reaches every node",
            Duration::from_secs(10),
            || async { call(node, "/fn/hello").await.0 },
            |status| *status == 404,
        )
        .await
        .unwrap();
        assert_eq!(digest_on(node, "hello").await, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_deploys_of_one_name_on_two_nodes_one_wins_one_gets_409_and_all_agree() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let mut conflicts = 0;
    for round in 0..5 {
        let name = format!("race-{round}");
        // Two different builds by one issuer (the name's owner), so the winner shows by digest.
        let hello = a.sign(guests::HTTP_HELLO, &name, &[]).unwrap();
        let echo = a.sign(guests::HTTP_ECHO, &name, &[]).unwrap();
        let (x, y) = tokio::join!(a.deploy_bytes(&name, hello), b.deploy_bytes(&name, echo));
        let (x, y) = (x.unwrap(), y.unwrap());
        let statuses = (x.status().as_u16(), y.status().as_u16());
        let (winner, loser) = match statuses {
            (201, 409) => (a, y),
            (409, 201) => (b, x),
            // One after the other: the second replaced the first (a deploy, not a race).
            (201, 200) | (200, 201) => continue,
            other => panic!(
                "round {round}: statuses {other:?}: a concurrent deploy was lost or refused wrongly"
            ),
        };
        conflicts += 1;
        let error: serde_json::Value = loser.json().await.unwrap();
        assert_eq!(error["error"]["code"], "concurrent_deploy", "{error}");
        let expected = digest_on(winner, &name).await.unwrap();
        for node in [a, b, c] {
            eventually(
                "every node serves the winner",
                Duration::from_secs(10),
                || digest_on(node, &name),
                |d| d.as_deref() == Some(expected.as_str()),
            )
            .await
            .unwrap();
        }
    }
    assert!(conflicts > 0, "no two deploys overlapped in 5 rounds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_low_load_a_functions_calls_run_on_one_node_whichever_node_received_them() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let nodes = &cluster.nodes;
    for name in ["f1", "f2"] {
        assert_eq!(
            nodes[0]
                .deploy(name, guests::HTTP_HELLO)
                .await
                .unwrap()
                .status(),
            201
        );
    }
    for name in ["f1", "f2"] {
        let mut by_node: HashMap<String, u32> = HashMap::new();
        for i in 0..60 {
            let (status, _, served_by) = call(&nodes[i % 3], &format!("/fn/{name}")).await;
            assert_eq!(status, 200);
            *by_node.entry(served_by.unwrap()).or_default() += 1;
        }
        let most = by_node.values().max().copied().unwrap_or(0);
        assert!(
            most * 100 >= 60 * 90,
            "{name}: calls by node {by_node:?}: under 90 % on one node"
        );
    }
    let status = nodes[1].get_json("/cluster").await.unwrap();
    assert_eq!(status["node"], "wasmgate-1");
    assert_eq!(status["members"].as_array().unwrap().len(), 3, "{status}");
    assert!(
        status["calls"]["forwarded_out"].as_u64().unwrap() > 0,
        "{status}"
    );
    let homed: Vec<&str> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|m| m["homes"].as_array().unwrap().iter())
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(homed.len(), 2, "each function has one home: {status}");
    assert_eq!(status["nodes_for_memory"], 1, "{status}");
    // The home's heartbeat reports what its keep-alive policy wants resident: the two functions
    // it is home for and served, against its budget.
    let home_memory = |status: &serde_json::Value| {
        status["members"].as_array().and_then(|members| {
            members
                .iter()
                .find(|m| m["homes"].as_array().is_some_and(|h| !h.is_empty()))
                .map(|m| (m["memory_demand"].as_u64(), m["memory_budget"].as_u64()))
        })
    };
    let reported = eventually(
        "the home reports its memory demand",
        crate::DEADLINE,
        || async { nodes[1].get_json("/cluster").await.unwrap() },
        |status| home_memory(status).is_some_and(|(demand, _)| demand > Some(0)),
    )
    .await
    .unwrap();
    let (_, budget) = home_memory(&reported).unwrap();
    assert!(budget > Some(0), "{reported}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forwarding_header_without_the_cluster_token_is_refused_and_no_guest_sees_the_token() {
    let cluster = ClusterHarness::start(2).await.unwrap();
    let node = &cluster.nodes[0];
    assert_eq!(
        node.deploy("echo", guests::HTTP_ECHO)
            .await
            .unwrap()
            .status(),
        201
    );
    for token in [None, Some("wrong-token-0123456789abcdefghijklmn")] {
        let mut request = reqwest::Client::new()
            .get(node.url("/fn/echo"))
            .header("wasmgate-forwarded-by", "wasmgate-1");
        if let Some(token) = token {
            request = request.header("wasmgate-cluster-token", token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 403);
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], "cluster_auth");
    }
    let lone = Gateway::builder().start().await.unwrap();
    let response = lone
        .client()
        .get(lone.url("/cluster"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_clustered");
    let anonymous = reqwest::get(node.url("/cluster")).await.unwrap();
    assert_eq!(anonymous.status(), 401, "/cluster is admin only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_home_is_skipped_and_every_call_still_answers() {
    let mut cluster = ClusterHarness::start(3).await.unwrap();
    assert_eq!(
        cluster.nodes[1]
            .deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let (_, _, home) = call(&cluster.nodes[2], "/fn/hello").await;
    let home = home.unwrap();
    let ordinal: usize = home.trim_start_matches("wasmgate-").parse().unwrap();
    cluster.nodes[ordinal].kill().await.unwrap();
    for round in 0..30 {
        for (i, node) in cluster.nodes.iter().enumerate() {
            if i == ordinal {
                continue;
            }
            let (status, _, served_by) = call(node, "/fn/hello").await;
            assert_eq!(status, 200, "round {round} on wasmgate-{i}");
            assert_ne!(served_by.as_deref(), Some(home.as_str()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_nats_is_down_deploys_are_refused_calls_still_answer_and_the_cluster_recovers() {
    let mut cluster = ClusterHarness::start(2).await.unwrap();
    assert_eq!(
        cluster.nodes[0]
            .deploy("before", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    eventually(
        "the deploy reaches the second node",
        Duration::from_secs(10),
        || digest_on(&cluster.nodes[1], "before"),
        |d| d.is_some(),
    )
    .await
    .unwrap();
    cluster.nats.stop().await.unwrap();
    let refused = cluster.nodes[1]
        .deploy("during", guests::HTTP_HELLO)
        .await
        .unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "cluster_unavailable", "{error}");
    for node in &cluster.nodes {
        assert_eq!(call(node, "/fn/before").await.0, 200);
        assert_eq!(
            digest_on(node, "during").await,
            None,
            "a refused deploy changes nothing"
        );
    }
    // A node restarted while NATS is down serves its last view.
    cluster.nodes[1].restart().await.unwrap();
    assert_eq!(call(&cluster.nodes[1], "/fn/before").await.0, 200);

    cluster.nats.start_again().await.unwrap();
    for node in &cluster.nodes {
        eventually(
            "membership comes back with NATS",
            Duration::from_secs(20),
            || async {
                node.get_json("/cluster").await.unwrap()["members"]
                    .as_array()
                    .map_or(0, Vec::len)
            },
            |members| *members == 2,
        )
        .await
        .unwrap();
    }
    eventually(
        "deploys work again once NATS is back",
        Duration::from_secs(20),
        || async {
            cluster.nodes[1]
                .deploy("after", guests::HTTP_HELLO)
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        },
        |status| *status == 201,
    )
    .await
    .unwrap();
    eventually(
        "and reach every node",
        Duration::from_secs(20),
        || digest_on(&cluster.nodes[0], "after"),
        |d| d.is_some(),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_of_all_three_under_load_answers_every_request() {
    let mut cluster = ClusterHarness::start(3).await.unwrap();
    assert_eq!(
        cluster.nodes[0]
            .deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let urls: Vec<String> = cluster.nodes.iter().map(|n| n.url("/fn/hello")).collect();
    let ready: Vec<String> = cluster.nodes.iter().map(|n| n.url("/readyz")).collect();
    // The load balancer: round-robin over the nodes whose /readyz answered 200 at its last check
    // (every 100 ms, as an L7 balancer's health check would).
    let in_rotation: Arc<Vec<AtomicBool>> =
        Arc::new(urls.iter().map(|_| AtomicBool::new(true)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let checker = {
        let (in_rotation, stop, ready) = (in_rotation.clone(), stop.clone(), ready.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                for (i, url) in ready.iter().enumerate() {
                    let up = client
                        .get(url)
                        .timeout(Duration::from_millis(200))
                        .send()
                        .await
                        .is_ok_and(|r| r.status() == 200);
                    in_rotation[i].store(up, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    // 200 requests per second, open loop.
    let load = {
        let (in_rotation, stop, ok, failed) = (
            in_rotation.clone(),
            stop.clone(),
            ok.clone(),
            failed.clone(),
        );
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            let mut next = 0usize;
            let mut calls = tokio::task::JoinSet::new();
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                let Some(i) = (0..urls.len())
                    .map(|k| (next + k) % urls.len())
                    .find(|&i| in_rotation[i].load(Ordering::Relaxed))
                else {
                    continue;
                };
                next = i + 1;
                let (client, url, ok, failed) =
                    (client.clone(), urls[i].clone(), ok.clone(), failed.clone());
                calls.spawn(async move {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == 200 => ok.fetch_add(1, Ordering::Relaxed),
                        Ok(r) => {
                            eprintln!("{url}: {}", r.status());
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(e) => {
                            eprintln!("{url}: {e}");
                            failed.fetch_add(1, Ordering::Relaxed)
                        }
                    };
                });
            }
            while calls.join_next().await.is_some() {}
        })
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    for node in cluster.nodes.iter_mut() {
        let status = node.terminate().await.unwrap();
        assert!(status.success(), "{status:?}");
        node.start_again().await.unwrap();
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    checker.await.unwrap();
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(ok > 1000, "only {ok} requests were sent");
    assert_eq!(failed, 0, "{failed} of {} requests failed", ok + failed);
}

/// `component` with a custom section named `name` appended (its code hash changes, its code does
/// not).
fn with_custom_section(component: &[u8], name: &str) -> Vec<u8> {
    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    let mut payload = Vec::new();
    leb(name.len(), &mut payload);
    payload.extend_from_slice(name.as_bytes());
    let mut out = component.to_vec();
    out.push(0);
    leb(payload.len(), &mut out);
    out.extend(payload);
    out
}

/// The `q` quantile (0–1) of `samples`, in milliseconds (nearest rank).
fn quantile_ms(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort();
    let rank = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len());
    samples[rank - 1].as_secs_f64() * 1000.0
}

/// Benchmark, not a test (`scripts/bench-cluster` runs it on a release build and keeps its
/// output in bench/CLUSTER.md): time from a deploy's answer on one node until the other two list
/// the function (polled every 5 ms), and the latency of a warm call served by the home itself
/// vs the same call received by another node and forwarded, interleaved in one run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-cluster runs it on a release build"]
async fn bench_deploy_propagation_and_forwarding_overhead() {
    let deploys: usize = std::env::var("BENCH_DEPLOYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    let hello = std::fs::read(guests::HTTP_HELLO).unwrap();
    // New code each time (a custom section makes each build's hash differ: every node compiles
    // it), then the same code under new names (the other nodes reuse what they compiled).
    for (kind, unique) in [("new code", true), ("same code, new name", false)] {
        let mut visible = Vec::with_capacity(deploys);
        let mut compile = Vec::with_capacity(deploys);
        for i in 0..deploys {
            let name = format!("bench-{}-{i}", if unique { "new" } else { "same" });
            let code = if unique {
                with_custom_section(&hello, &name)
            } else {
                hello.clone()
            };
            let bytes = a.sign_bytes(&code, &name, &[]).unwrap();
            let response = a.deploy_bytes(&name, bytes).await.unwrap();
            let answered = std::time::Instant::now();
            assert_eq!(response.status(), 201);
            let body: serde_json::Value = response.json().await.unwrap();
            compile.push(Duration::from_secs_f64(
                body["compile_ms"].as_f64().unwrap_or(0.0) / 1000.0,
            ));
            for node in [b, c] {
                while digest_on(node, &name).await.is_none() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            visible.push(answered.elapsed());
        }
        println!(
            "BENCH deploy visible on both other nodes after the deploy's answer ({kind}), {deploys} deploys: p50 {:.1} ms, p99 {:.1} ms (compile on the deploying node: p50 {:.1} ms)",
            quantile_ms(&mut visible, 0.5),
            quantile_ms(&mut visible, 0.99),
            quantile_ms(&mut compile, 0.5),
        );
    }

    assert_eq!(
        a.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let (_, _, home) = call(b, "/fn/hello").await;
    let home: usize = home
        .unwrap()
        .trim_start_matches("wasmgate-")
        .parse()
        .unwrap();
    let other = (home + 1) % 3;
    let client = reqwest::Client::new();
    let (home_url, other_url) = (
        cluster.nodes[home].url("/fn/hello"),
        cluster.nodes[other].url("/fn/hello"),
    );
    // Warm both paths (instances, pooled connections) first.
    for _ in 0..50 {
        for url in [&home_url, &other_url] {
            client.get(url).send().await.unwrap().bytes().await.unwrap();
        }
    }
    let (mut local, mut forwarded) = (Vec::new(), Vec::new());
    for _ in 0..calls {
        for (url, samples) in [(&home_url, &mut local), (&other_url, &mut forwarded)] {
            let started = std::time::Instant::now();
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.bytes().await.unwrap();
            samples.push(started.elapsed());
        }
    }
    let (l50, l99) = (quantile_ms(&mut local, 0.5), quantile_ms(&mut local, 0.99));
    let (f50, f99) = (
        quantile_ms(&mut forwarded, 0.5),
        quantile_ms(&mut forwarded, 0.99),
    );
    println!(
        "BENCH warm call, {calls} each, interleaved, keep-alive client: served by the home p50 {l50:.3} ms p99 {l99:.3} ms; received elsewhere and forwarded p50 {f50:.3} ms p99 {f99:.3} ms; forwarding adds p50 {:.3} ms ({:.2}x)",
        f50 - l50,
        f50 / l50
    );
}

/// Benchmark, not a test (`scripts/bench-cluster`): time from a deploy's answer until the other
/// two nodes list a large component (the componentize-js conformance guest, new code each time),
/// in a cluster where every node compiles it and, in the same run, in one where the deploying
/// node signs its artifact and the other two load it (`[cluster] node_key`, `trusted_nodes`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: scripts/bench-cluster runs it on a release build"]
async fn bench_shared_artifacts_propagation() {
    let deploys: usize = std::env::var("BENCH_LARGE_DEPLOYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let js = std::fs::read(guests::CONF_JS).unwrap();
    let mut results = Vec::new();
    for (kind, keys) in [
        ("every node compiles", None),
        (
            "the others load wasmgate-0's signed artifact",
            Some(wasmgate_tests::NodeKeys {
                signs: |i| i == 0,
                trusts: |_, j| j == 0,
            }),
        ),
    ] {
        let cluster = ClusterHarness::start_with(
            3,
            wasmgate_tests::ClusterNodeConfig {
                node_keys: keys,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let [a, b, c] = &cluster.nodes[..] else {
            unreachable!()
        };
        let mut visible = Vec::with_capacity(deploys);
        for i in 0..deploys {
            let name = format!("large-{i}");
            let code = with_custom_section(&js, &format!("{kind}-{i}"));
            let bytes = a.sign_bytes(&code, &name, &[]).unwrap();
            let response = a.deploy_bytes(&name, bytes).await.unwrap();
            let answered = std::time::Instant::now();
            assert_eq!(response.status(), 201);
            for node in [b, c] {
                while digest_on(node, &name).await.is_none() {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            visible.push(answered.elapsed());
        }
        let adopted = artifacts(b, "adopted").await + artifacts(c, "adopted").await;
        results.push((
            kind,
            quantile_ms(&mut visible, 0.5),
            quantile_ms(&mut visible, 0.99),
            adopted,
        ));
    }
    for (kind, p50, p99, adopted) in &results {
        println!(
            "BENCH large component ({} KiB, componentize-js) visible on both other nodes after the deploy's answer, {kind}, {deploys} deploys: p50 {p50:.1} ms, p99 {p99:.1} ms ({adopted} artifacts adopted)",
            js.len() / 1024
        );
    }
    println!(
        "BENCH shared artifacts: time to visible p50 {:.1} ms against {:.1} ms when every node compiles ({:.3}x)",
        results[1].1,
        results[0].1,
        results[1].1 / results[0].1
    );
}

/// `POST /async/{function}{path}` on `node`; the call id and token when accepted (202).
async fn submit(node: &Gateway, function: &str, path: &str) -> Option<(String, String)> {
    let response = reqwest::Client::new()
        .post(node.url(&format!("/async/{function}{path}")))
        .body("payload")
        .send()
        .await
        .ok()?;
    if response.status() != 202 {
        return None;
    }
    let header = |name: &str| response.headers()[name].to_str().unwrap().to_owned();
    Some((header("x-call-id"), header("x-call-token")))
}

/// The state of call `id` read on `node` with its token (`None`: 404).
async fn call_state(node: &Gateway, id: &str, token: &str) -> Option<serde_json::Value> {
    let response = reqwest::Client::new()
        .get(node.url(&format!("/calls/{id}")))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    response.json().await.ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_call_accepted_on_one_node_is_run_once_and_readable_on_every_node() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    assert_eq!(
        a.deploy("echo", guests::HTTP_ECHO).await.unwrap().status(),
        201
    );
    let (id, token) = submit(b, "echo", "/x").await.unwrap();
    for node in [a, b, c] {
        let state = eventually(
            "the result is readable on every node",
            Duration::from_secs(20),
            || call_state(node, &id, &token),
            |s| s.as_ref().is_some_and(|s| s["state"] == "done"),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(state["result"]["status"], 200, "{state}");
        assert_eq!(state["attempts"], 1, "{state}");
        let echoed: serde_json::Value =
            serde_json::from_str(state["result"]["body"].as_str().unwrap()).unwrap();
        assert_eq!(echoed["body"], "payload", "{state}");
    }
    // Without the token (or with another call's) nothing is told.
    assert_eq!(call_state(c, &id, "wrong-token").await, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_a_steady_stream_of_async_calls_loses_none_of_them() {
    let mut cluster = ClusterHarness::start_with(
        3,
        wasmgate_tests::ClusterNodeConfig {
            extra_toml: "ack_wait = \"2s\"\n".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        cluster.nodes[0]
            .deploy("slow", guests::HTTP_SLOW)
            .await
            .unwrap()
            .status(),
        201
    );
    let mut accepted = Vec::new();
    let victim = 2;
    // 20 calls a second for 4 s, each running 1 s, round robin: when the victim is killed, after
    // 1 s, it is running several.
    for i in 0..80 {
        if i == 20 {
            cluster.nodes[victim].kill().await.unwrap();
        }
        let node = i % 3;
        if i >= 20 && node == victim {
            continue;
        }
        if let Some(call) = submit(&cluster.nodes[node], "slow", "/?ms=1000").await {
            accepted.push(call);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        accepted.len() >= 60,
        "only {} calls accepted",
        accepted.len()
    );
    let reader = &cluster.nodes[0];
    for (id, token) in &accepted {
        let state = eventually(
            "every accepted call completes",
            Duration::from_secs(60),
            || call_state(reader, id, token),
            |s| s.as_ref().is_some_and(|s| s["state"] == "done"),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(state["result"]["body"], "slept 1000", "{state}");
    }
    let mut redelivered = 0.0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        if i != victim {
            redelivered += node
                .counter(
                    "wasmgate_cluster_async_calls_total",
                    &[("outcome", "redelivered")],
                )
                .await
                .unwrap();
        }
    }
    assert!(
        redelivered >= 1.0,
        "the killed node held no call: the test proved nothing"
    );
    eprintln!(
        "{} accepted calls, all completed; {redelivered} ran again after wasmgate-{victim} was killed",
        accepted.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_transfer_on_one_node_holds_on_every_node() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    assert_eq!(
        a.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    // b's own key does not own the name: its deploy is refused on any node.
    let refused = c
        .deploy_bytes("hello", b.sign(guests::HTTP_ECHO, "hello", &[]).unwrap())
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let new_owner = b.key().issuer().to_string();
    let transferred = a
        .client()
        .put(a.url("/functions/hello/owner"))
        .json(&serde_json::json!({ "issuer": new_owner }))
        .send()
        .await
        .unwrap();
    assert_eq!(transferred.status(), 200);
    eventually(
        "the transfer reaches another node",
        Duration::from_secs(10),
        || async {
            c.get_json("/functions/hello/owner").await.unwrap()["owner"]
                .as_str()
                .map(str::to_owned)
        },
        |owner| owner.as_deref() == Some(new_owner.as_str()),
    )
    .await
    .unwrap();
    let deployed = c
        .deploy_bytes("hello", b.sign(guests::HTTP_ECHO, "hello", &[]).unwrap())
        .await
        .unwrap();
    assert_eq!(deployed.status(), 200, "{}", deployed.text().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_replacements_on_two_nodes_always_answer() {
    let cluster = ClusterHarness::start(2).await.unwrap();
    let [a, b] = &cluster.nodes[..] else {
        unreachable!()
    };
    for name in ["x", "y"] {
        assert_eq!(
            a.deploy(name, guests::HTTP_HELLO).await.unwrap().status(),
            201
        );
    }
    // Replacing one name on both nodes at once, and two names at once: a deploy that waits on
    // a registry change applied on its node must not wait forever (a lock-order inversion
    // between deploys and applied changes once did).
    let answer = Duration::from_secs(60);
    for round in 0..6 {
        let code = if round % 2 == 0 {
            guests::HTTP_ECHO
        } else {
            guests::HTTP_HELLO
        };
        let (x_on_a, x_on_b, y_on_b) = tokio::join!(
            tokio::time::timeout(answer, a.deploy_bytes("x", a.sign(code, "x", &[]).unwrap())),
            tokio::time::timeout(answer, b.deploy_bytes("x", a.sign(code, "x", &[]).unwrap())),
            tokio::time::timeout(answer, b.deploy_bytes("y", a.sign(code, "y", &[]).unwrap())),
        );
        for (what, result) in [("x on a", x_on_a), ("x on b", x_on_b), ("y on b", y_on_b)] {
            let status = result
                .unwrap_or_else(|_| panic!("round {round}: deploy of {what} never answered"))
                .unwrap()
                .status()
                .as_u16();
            assert!(
                [200, 409].contains(&status),
                "round {round}: {what}: {status}"
            );
        }
    }
    let expected = digest_on(a, "x").await.unwrap();
    eventually(
        "both nodes agree",
        Duration::from_secs(10),
        || digest_on(b, "x"),
        |d| d.as_deref() == Some(expected.as_str()),
    )
    .await
    .unwrap();
}

/// Deploys the config guest as `app` on `node`, answering `?key=v` with `n`.
async fn deploy_numbered(node: &Gateway, n: u32) -> u16 {
    let manifest = format!("[config]\nv = \"{n}\"\n");
    let response = node
        .deploy_granted("app", guests::CAPS_CONFIG, &[Capability::Config], &manifest)
        .await
        .unwrap();
    response.status().as_u16()
}

/// Waits until `node` answers `/fn/app?key=v` with `n` and lists version `n` as live.
async fn until_serving(node: &Gateway, n: u64) {
    eventually(
        "the node serves the version",
        Duration::from_secs(10),
        || async {
            let answer = call(node, "/fn/app?key=v").await.1;
            let live = node
                .function("app")
                .await
                .ok()
                .map(|f| f["version"].clone());
            (answer, live)
        },
        |(answer, live)| *answer == n.to_string() && *live == Some(serde_json::json!(n)),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_on_one_node_is_served_by_every_node_and_numbering_goes_on() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    assert_eq!(deploy_numbered(a, 1).await, 201);
    for node in [a, b, c] {
        until_serving(node, 1).await;
    }
    assert_eq!(deploy_numbered(a, 2).await, 200);
    for node in [a, b, c] {
        until_serving(node, 2).await;
    }

    let rolled = b
        .client()
        .post(b.url("/functions/app/rollback"))
        .send()
        .await
        .unwrap();
    assert_eq!(rolled.status(), 200, "{}", rolled.text().await.unwrap());
    for node in [a, b, c] {
        until_serving(node, 1).await;
    }

    // Splits are not shared yet: refused with a pointer to what is.
    let split = c
        .client()
        .put(c.url("/functions/app/traffic"))
        .body(r#"{"1": 50, "2": 50}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        crate::error_code(split).await,
        (501, "not_in_cluster".into())
    );
    // So are canaries, asked for by the manifest as by the query; nothing is deployed.
    let canary = a
        .deploy_granted(
            "app",
            guests::CAPS_CONFIG,
            &[Capability::Config],
            "[config]\nv = \"9\"\n[rollout]\ncanary = \"10%\"\n",
        )
        .await
        .unwrap();
    assert_eq!(
        crate::error_code(canary).await,
        (501, "not_in_cluster".into())
    );

    // The next deploy (by the name's owner, who signs on node a) takes the next number
    // everywhere: the rollback used no number.
    let next = a
        .deploy_granted(
            "app",
            guests::CAPS_CONFIG,
            &[Capability::Config],
            "[config]\nv = \"3\"\n",
        )
        .await
        .unwrap();
    let body: serde_json::Value = next.json().await.unwrap();
    assert_eq!(body["version"], 3, "{body}");
    for node in [a, b, c] {
        until_serving(node, 3).await;
    }
}

/// `wasmgate_cluster_artifacts_total{outcome}` on `node`.
async fn artifacts(node: &Gateway, outcome: &str) -> f64 {
    node.counter("wasmgate_cluster_artifacts_total", &[("outcome", outcome)])
        .await
        .unwrap()
}

/// The objects of the shared artifact store: (name, bytes, metadata).
async fn shared_artifacts(nats_url: &str) -> Vec<(String, Vec<u8>, HashMap<String, String>)> {
    use futures::StreamExt as _;
    use tokio::io::AsyncReadExt as _;
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.unwrap());
    let store = js.get_object_store("wg_artifacts").await.unwrap();
    let mut names = Vec::new();
    let mut list = store.list().await.unwrap();
    while let Some(info) = list.next().await {
        names.push(info.unwrap().name);
    }
    let mut objects = Vec::new();
    for name in names {
        let mut object = store.get(&name).await.unwrap();
        let metadata = object.info().metadata.clone();
        let mut bytes = Vec::new();
        object.read_to_end(&mut bytes).await.unwrap();
        objects.push((name, bytes, metadata));
    }
    objects
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_loads_an_artifact_only_from_a_node_it_trusts_and_compiles_when_the_signature_fails()
{
    // wasmgate-0 and wasmgate-1 sign what they compile; wasmgate-1 trusts wasmgate-0;
    // wasmgate-2 trusts only wasmgate-1.
    let mut cluster = ClusterHarness::start_with(
        3,
        wasmgate_tests::ClusterNodeConfig {
            node_keys: Some(wasmgate_tests::NodeKeys {
                signs: |i| i < 2,
                trusts: |i, j| (i, j) == (1, 0) || (i, j) == (2, 1),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let deployed = cluster.nodes[0]
        .deploy("hello", guests::HTTP_HELLO)
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    let digest = digest_on(&cluster.nodes[0], "hello").await.unwrap();
    for node in &cluster.nodes[1..] {
        eventually(
            "the deploy is applied on every node",
            Duration::from_secs(20),
            || digest_on(node, "hello"),
            |d| d.as_deref() == Some(digest.as_str()),
        )
        .await
        .unwrap();
    }
    assert_eq!(artifacts(&cluster.nodes[0], "published").await, 1.0);
    assert_eq!(artifacts(&cluster.nodes[1], "adopted").await, 1.0);
    assert_eq!(artifacts(&cluster.nodes[2], "adopted").await, 0.0);
    assert_eq!(artifacts(&cluster.nodes[2], "untrusted").await, 1.0);
    // The adopted artifact is the one wasmgate-0 compiled; wasmgate-2 compiled its own.
    let artifact_on = |i: usize| {
        let node = &cluster.nodes[i];
        async move { node.function("hello").await.unwrap()["artifact"]["digest"].clone() }
    };
    let (a0, a1) = (artifact_on(0).await, artifact_on(1).await);
    assert!(a0.is_string(), "{a0}");
    assert_eq!(a0, a1);
    let stored = shared_artifacts(&cluster.nats.url()).await;
    assert_eq!(stored.len(), 1, "one artifact, from the one signing node");
    let (name, bytes, metadata) = stored.into_iter().next().unwrap();
    assert_eq!(metadata["wasmgate-node"], "wasmgate-0");
    assert_eq!(metadata["wasmgate-node-key"], cluster.node_keys[0]);
    assert_eq!(
        cluster.nodes[1].function("hello").await.unwrap()["artifact"]["adopted_from"],
        cluster.node_keys[0].as_str()
    );

    // Trust is not passed on: the same code deployed on wasmgate-1 reuses what it adopted, and
    // wasmgate-1 does not sign wasmgate-0's code as its own, so wasmgate-2 (which trusts only
    // wasmgate-1) compiles it.
    let again = cluster.nodes[1]
        .deploy("hello-again", guests::HTTP_HELLO)
        .await
        .unwrap();
    assert_eq!(again.status(), 201, "{}", again.text().await.unwrap());
    let again_digest = digest_on(&cluster.nodes[1], "hello-again").await.unwrap();
    eventually(
        "wasmgate-2 applies hello-again",
        Duration::from_secs(20),
        || digest_on(&cluster.nodes[2], "hello-again"),
        |d| d.as_deref() == Some(again_digest.as_str()),
    )
    .await
    .unwrap();
    assert_eq!(artifacts(&cluster.nodes[1], "published").await, 0.0);
    assert_eq!(artifacts(&cluster.nodes[2], "adopted").await, 0.0);
    // (wasmgate-0 may share the code under the new original too: it compiled it.)
    for (name, _, metadata) in shared_artifacts(&cluster.nats.url()).await {
        assert_eq!(
            metadata["wasmgate-node-key"], cluster.node_keys[0],
            "{name}"
        );
    }

    // A key no longer trusted at a restart: wasmgate-1 compiles what it had adopted from it.
    cluster.nodes[1].set_env("WASMGATE_TRUSTED_NODES", "");
    cluster.nodes[1].restart().await.unwrap();
    let rebuilt = cluster.nodes[1].function("hello").await.unwrap();
    assert_eq!(
        rebuilt["artifact"]["adopted_from"],
        serde_json::Value::Null,
        "{rebuilt}"
    );
    assert_eq!(rebuilt["status"], "serving");
    cluster.nodes[1].set_env("WASMGATE_TRUSTED_NODES", &cluster.node_keys[0].clone());
    cluster.nodes[1].restart().await.unwrap();

    // With its compiler gone, wasmgate-1 serves hello from the adopted artifact.
    cluster.nodes[0].kill().await.unwrap();
    eventually(
        "wasmgate-1 serves hello itself",
        Duration::from_secs(20),
        || call(&cluster.nodes[2], "/fn/hello"),
        |(status, body, by)| {
            *status == 200 && body == "hello from wasmgate\n" && by.as_deref() == Some("wasmgate-1")
        },
    )
    .await
    .unwrap();

    // wasmgate-0's genuine artifact and signature, replayed under another original's name: the
    // signature does not cover that original, so wasmgate-1 compiles the new function itself.
    let echo = cluster.nodes[2]
        .sign(guests::HTTP_ECHO, "echo", &[])
        .unwrap();
    let echo_original = {
        use sha2::Digest as _;
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(&echo)))
    };
    let (engine_dir, _) = name.rsplit_once('/').unwrap();
    let replayed = format!("{engine_dir}/{echo_original}");
    {
        let js = async_nats::jetstream::new(async_nats::connect(cluster.nats.url()).await.unwrap());
        let store = js.get_object_store("wg_artifacts").await.unwrap();
        store
            .put(
                async_nats::jetstream::object_store::ObjectMetadata {
                    name: replayed.clone(),
                    metadata: metadata.clone(),
                    ..Default::default()
                },
                &mut bytes.as_slice(),
            )
            .await
            .unwrap();
    }
    let deployed = cluster.nodes[2].deploy_bytes("echo", echo).await.unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    let echo_digest = digest_on(&cluster.nodes[2], "echo").await.unwrap();
    eventually(
        "wasmgate-1 applies echo",
        Duration::from_secs(20),
        || digest_on(&cluster.nodes[1], "echo"),
        |d| d.as_deref() == Some(echo_digest.as_str()),
    )
    .await
    .unwrap();
    // (Counters started again with wasmgate-1's last restart.)
    assert_eq!(artifacts(&cluster.nodes[1], "bad_signature").await, 1.0);
    assert_eq!(artifacts(&cluster.nodes[1], "adopted").await, 0.0);
    assert_ne!(
        cluster.nodes[1].function("echo").await.unwrap()["artifact"]["digest"],
        a0,
        "compiled from the echo original, not the replayed hello artifact"
    );
    let (status, _, _) = call(&cluster.nodes[1], "/fn/echo").await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_whose_nats_asks_for_a_user_forms_with_it_and_a_wrong_password_changes_nothing() {
    const USER: (&str, &str) = ("wasmgate", "nats-password-0123456789");
    let cluster = ClusterHarness::start_with(
        2,
        wasmgate_tests::ClusterNodeConfig {
            nats_user: Some(USER),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let [a, b] = &cluster.nodes[..] else {
        unreachable!()
    };
    let deployed = a.deploy("hello", guests::HTTP_HELLO).await.unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    let digest = digest_on(a, "hello").await.unwrap();
    eventually(
        "the deploy reaches the other node",
        Duration::from_secs(10),
        || digest_on(b, "hello"),
        |d| d.as_deref() == Some(digest.as_str()),
    )
    .await
    .unwrap();
    // The bus is the cluster's NATS, reached as the same user.
    let client = async_nats::ConnectOptions::new()
        .user_and_password(USER.0.into(), USER.1.into())
        .connect(cluster.nats.url())
        .await
        .unwrap();
    let mut orders = client.subscribe("orders.created").await.unwrap();
    client.flush().await.unwrap();
    let published = b
        .client()
        .post(b.url("/publish/orders.created"))
        .body("one order")
        .send()
        .await
        .unwrap();
    assert!(published.status().is_success(), "{}", published.status());
    let message = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut orders),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(&message.payload[..], b"one order");
    // The server refuses a client without the user: the settings are what let the nodes in.
    assert!(async_nats::connect(cluster.nats.url()).await.is_err());

    // A node with the wrong password starts, serves nothing of the cluster's and changes nothing.
    let config = format!(
        "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n[cluster]\nnats_user = \"{}\"\nnats_password_env = \"{}\"\n",
        cluster.redis.url(),
        USER.0,
        wasmgate_tests::NATS_PASSWORD_ENV
    );
    let wrong = Gateway::builder()
        .config_toml(&config)
        .env("WASMGATE_CLUSTER", &cluster.nats.url())
        .env("WASMGATE_NODE_ID", "wasmgate-9")
        .env("WASMGATE_ADVERTISE", "http://127.0.0.1:9")
        .env(wasmgate_tests::NATS_PASSWORD_ENV, "not-the-password")
        .start()
        .await
        .unwrap();
    let refused = wrong.deploy("other", guests::HTTP_HELLO).await.unwrap();
    let (status, code) = crate::error_code(refused).await;
    assert_eq!((status, code.as_str()), (503, "cluster_unavailable"));
    assert_eq!(digest_on(a, "other").await, None);

    // Without the password in its variable a node refuses to start, naming the variable.
    let dir = tempfile::tempdir().unwrap();
    let settings = dir.path().join("wasmgate.toml");
    std::fs::write(&settings, &config).unwrap();
    let output = tokio::process::Command::new(wasmgate_tests::wasmgate_bin())
        .args(["serve", "--config"])
        .arg(&settings)
        .current_dir(dir.path())
        .env("WASMGATE_LISTEN", "127.0.0.1:0")
        .env(
            "WASMGATE_ADMIN_TOKEN",
            "admin-token-0123456789abcdefghijklmnop",
        )
        .env("WASMGATE_CLUSTER", cluster.nats.url())
        .env("WASMGATE_NODE_ID", "wasmgate-8")
        .env("WASMGATE_ADVERTISE", "http://127.0.0.1:8")
        .env_remove(wasmgate_tests::NATS_PASSWORD_ENV)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(wasmgate_tests::NATS_PASSWORD_ENV) && stderr.contains("not set"),
        "{stderr}"
    );
}

/// Kills a process group when dropped (a failed test leaves no cluster behind).
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.0)])
            .status();
    }
}

/// A port `p` such that `p`, `p + 1` … `p + 3` and `p + 324` are free (the balancer, the three
/// gateways and HAProxy's stats page of `scripts/cluster-processes`).
fn free_port_block() -> u16 {
    for _ in 0..50 {
        let base = wasmgate_tests::free_port().unwrap();
        let ports = [0, 1, 2, 3, 324].map(|d| base.checked_add(d));
        if ports
            .iter()
            .all(|p| p.is_some_and(|p| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok()))
        {
            return base;
        }
    }
    panic!("no free block of ports");
}

/// `docker/compose.yaml`'s cluster as plain processes (`scripts/cluster-processes`, for machines
/// without a Docker daemon): HAProxy with `docker/haproxy.cfg` takes turns over three gateways
/// with `docker/cluster.toml`'s settings that form one cluster on NATS and Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_cluster_runs_as_plain_processes_behind_haproxy() {
    let work = tempfile::tempdir().unwrap();
    let port = free_port_block();
    let issuer = wasmgate_claims::SigningKey::generate();
    let admin = format!("compose-admin-{}", uuid::Uuid::new_v4().simple());
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cluster-processes");
    let child = tokio::process::Command::new(script)
        .env("PORT", port.to_string())
        .env(
            "NATS_PORT",
            wasmgate_tests::free_port().unwrap().to_string(),
        )
        .env(
            "REDIS_PORT",
            wasmgate_tests::free_port().unwrap().to_string(),
        )
        .env("WORK", work.path())
        .env("WASMGATE_BIN", wasmgate_tests::wasmgate_bin())
        .env("WASMGATE_ADMIN_TOKEN", &admin)
        .env(
            "WASMGATE_CLUSTER_TOKEN",
            format!("compose-cluster-{}", uuid::Uuid::new_v4().simple()),
        )
        .env("WASMGATE_TRUSTED_ISSUERS", issuer.issuer().to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let _group = ProcessGroup(child.id().unwrap());
    let balancer = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(
        "the balancer has a ready gateway",
        Duration::from_secs(60),
        || async {
            match client.get(format!("{balancer}/readyz")).send().await {
                Ok(r) => r.status().as_u16(),
                Err(_) => 0,
            }
        },
        |status| *status == 200,
    )
    .await
    .unwrap();
    let signed = wasmgate_claims::sign(
        &std::fs::read(guests::HTTP_HELLO).unwrap(),
        &issuer,
        &wasmgate_claims::SignOptions {
            name: "hello".into(),
            expires_in: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
        std::time::SystemTime::now(),
    )
    .unwrap();
    let deployed = client
        .put(format!("{balancer}/functions/hello"))
        .bearer_auth(&admin)
        .header("content-type", "application/wasm")
        .body(signed)
        .send()
        .await
        .unwrap();
    assert_eq!(deployed.status(), 201, "{}", deployed.text().await.unwrap());
    // Round robin over all three once each passes its checks; every call answers, and at this
    // load each runs on the function's home, whichever gateway took it.
    let rounds = eventually(
        "the balancer takes turns over gw1, gw2 and gw3",
        Duration::from_secs(30),
        || async {
            let mut seen = Vec::new();
            for _ in 0..6 {
                let response = client
                    .get(format!("{balancer}/fn/hello"))
                    .send()
                    .await
                    .unwrap();
                let header = |name: &str| {
                    response
                        .headers()
                        .get(name)
                        .map(|v| v.to_str().unwrap().to_owned())
                };
                let (ingress, node) = (header("x-wasmgate-ingress"), header("wasmgate-node"));
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                seen.push((status, body, ingress, node));
            }
            seen
        },
        |seen| {
            let ingress: std::collections::BTreeSet<_> =
                seen.iter().filter_map(|s| s.2.clone()).collect();
            ingress.len() == 3 && seen.iter().all(|s| s.0 == 200 && s.3 == seen[0].3)
        },
    )
    .await
    .unwrap();
    for (status, body, _, node) in &rounds {
        assert_eq!((*status, body.as_str()), (200, "hello from wasmgate\n"));
        assert_eq!(node.as_deref(), rounds[0].3.as_deref(), "{rounds:?}");
    }
}
