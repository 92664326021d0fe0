//! Versions, rollback and traffic splits: every deploy of a name is a numbered version kept with
//! its signed original; an admin rolls back or splits traffic between kept versions, each made
//! live again only after its original passes today's checks; `/fn/NAME@K` reaches version K; a
//! sticky key keeps a client on one version; all of it survives a restart.

use crate::error_code;
use futures::StreamExt;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, SIGNED_FOR, guests};

/// The manifest of version `n` of the config guest: it answers `?key=v` with `n`.
fn manifest(n: u32, extra: &str) -> String {
    format!("[config]\nv = \"{n}\"\n{extra}")
}

/// Deploys the config guest as `name`, answering with `n`; the response's status and body.
async fn deploy(gw: &Gateway, name: &str, n: u32, extra: &str) -> (u16, Value) {
    let response = gw
        .deploy_granted(
            name,
            guests::CAPS_CONFIG,
            &[Capability::Config],
            &manifest(n, extra),
        )
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// What `path` (e.g. `/fn/app`) answers to `?key=v`, with `headers`: the version's number.
async fn answer(gw: &Gateway, path: &str, headers: &[(&str, &str)]) -> String {
    let mut request = gw.client().get(gw.url(&format!("{path}?key=v")));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.unwrap()
}

/// `POST /functions/{name}/rollback` with `body`.
async fn rollback(gw: &Gateway, name: &str, body: &str) -> reqwest::Response {
    gw.client()
        .post(gw.url(&format!("/functions/{name}/rollback")))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// `PUT /functions/{name}/traffic` with `body`.
async fn traffic(gw: &Gateway, name: &str, body: &str) -> reqwest::Response {
    gw.client()
        .put(gw.url(&format!("/functions/{name}/traffic")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

/// `GET /functions/{name}/versions`.
async fn versions(gw: &Gateway, name: &str) -> Value {
    gw.get_json(&format!("/functions/{name}/versions"))
        .await
        .unwrap()
}

/// The kept version numbers of `name`, oldest first.
async fn kept(gw: &Gateway, name: &str) -> Vec<u64> {
    versions(gw, name).await["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn three_versions_roll_back_twice_and_every_refused_rollback_changes_nothing() {
    let mut gw = Gateway::builder().start().await.unwrap();
    for n in 1..=3 {
        let (status, body) = deploy(&gw, "app", n, "").await;
        assert_eq!(status, if n == 1 { 201 } else { 200 }, "{body}");
        assert_eq!(body["version"], n, "{body}");
    }
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "3");
    let listed = versions(&gw, "app").await;
    assert_eq!(listed["live"], json!({"3": 100}), "{listed}");
    assert_eq!(listed["next_version"], 4);
    assert_eq!(kept(&gw, "app").await, vec![1, 2, 3]);
    let entry = &listed["versions"][0];
    for field in [
        "digest",
        "issuer",
        "claims",
        "manifest",
        "deployed_at",
        "original",
    ] {
        assert!(!entry[field].is_null(), "{field} missing: {entry}");
    }
    let described = gw.function("app").await.unwrap();
    assert_eq!(described["version"], 3);
    assert_eq!(described["live"][0]["version"], 3);
    assert_eq!(described["live"][0]["weight"], 100);

    // Back to the previous version, twice: the live pointer moves, no number is created.
    for expected in [2, 1] {
        let response = rollback(&gw, "app", "").await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["live"], json!({ expected.to_string(): 100 }), "{body}");
        assert_eq!(answer(&gw, "/fn/app", &[]).await, expected.to_string());
    }
    assert_eq!(kept(&gw, "app").await, vec![1, 2, 3]);
    assert_eq!(versions(&gw, "app").await["next_version"], 4);

    // Refusals: nothing older, an unknown version, a malformed body, an unknown function.
    let refusals = [
        ("app", "", 409, "no_previous_version"),
        ("app", r#"{"version": 9}"#, 404, "version_not_found"),
        ("app", r#"{"versio": 3}"#, 400, "bad_request"),
        ("app", "3", 400, "bad_request"),
        ("nope", "", 404, "function_not_found"),
    ];
    for (name, body, status, code) in refusals {
        let refused = error_code(rollback(&gw, name, body).await).await;
        assert_eq!(refused, (status, code.to_owned()), "{name} {body}");
        assert_eq!(answer(&gw, "/fn/app", &[]).await, "1", "{body} changed it");
        assert_eq!(versions(&gw, "app").await["live"], json!({"1": 100}));
    }
    let wrong_method = gw
        .client()
        .get(gw.url("/functions/app/rollback"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(wrong_method).await.0, 405);

    // Forward again by number (an admin act past the no-downgrade rule either way).
    assert_eq!(
        rollback(&gw, "app", r#"{"version": 3}"#).await.status(),
        200
    );
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "3");

    // Versions and the live pointer survive a restart (SIGKILL) and a clean stop alike.
    rollback(&gw, "app", r#"{"version": 2}"#).await;
    gw.restart().await.unwrap();
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "2");
    assert_eq!(kept(&gw, "app").await, vec![1, 2, 3]);
    assert_eq!(versions(&gw, "app").await["live"], json!({"2": 100}));

    // The next deploy is version 4 and takes all traffic, as a deploy always did.
    let (status, body) = deploy(&gw, "app", 4, "").await;
    assert_eq!((status, &body["version"]), (200, &json!(4)), "{body}");
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "4");
    assert_eq!(versions(&gw, "app").await["live"], json!({"4": 100}));

    // A delete takes every version with it; the name starts again at 1.
    let deleted = gw
        .client()
        .delete(gw.url("/functions/app"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(
        error_code(
            gw.client()
                .get(gw.url("/functions/app/versions"))
                .send()
                .await
                .unwrap()
        )
        .await,
        (404, "function_not_found".to_owned())
    );
    assert_eq!(
        std::fs::read_dir(gw.data_dir().join("originals"))
            .unwrap()
            .count(),
        0,
        "a deleted function's kept originals stayed"
    );
    let (status, body) = deploy(&gw, "app", 5, "").await;
    assert_eq!((status, &body["version"]), (201, &json!(1)), "{body}");
}

#[tokio::test]
async fn a_rollback_to_a_version_whose_issuer_is_no_longer_trusted_is_refused_with_its_code() {
    let team_b = SigningKey::generate();
    let mut gw = Gateway::builder()
        .arg("--trust")
        .arg(&team_b.issuer().to_string())
        .start()
        .await
        .unwrap();
    // Version 1 by team B; the name then moves to the harness's issuer, which deploys version 2.
    let bytes = std::fs::read(guests::CAPS_CONFIG).unwrap();
    let text = manifest(1, "");
    let options = SignOptions {
        name: "app".into(),
        caps: vec![Capability::Config],
        expires_in: Some(SIGNED_FOR),
        manifest: Some(text.clone().into_bytes()),
        ..SignOptions::default()
    };
    let signed =
        wasmgate_claims::sign(&bytes, &team_b, &options, std::time::SystemTime::now()).unwrap();
    assert_eq!(
        gw.deploy_parts("app", signed, &text)
            .await
            .unwrap()
            .status(),
        201
    );
    let own = gw.key().issuer().to_string();
    let transfer = gw
        .client()
        .put(gw.url("/functions/app/owner"))
        .json(&json!({ "issuer": own }))
        .send()
        .await
        .unwrap();
    assert_eq!(transfer.status(), 200);
    assert_eq!(deploy(&gw, "app", 2, "").await.0, 200);

    // Team B is no longer trusted: its version stays listed, and may not come back.
    gw.trust_only(std::slice::from_ref(&own));
    gw.restart().await.unwrap();
    assert_eq!(kept(&gw, "app").await, vec![1, 2]);
    let refused = error_code(rollback(&gw, "app", "").await).await;
    assert_eq!(refused, (403, "untrusted_issuer".to_owned()));
    let split = error_code(traffic(&gw, "app", r#"{"1": 10, "2": 90}"#).await).await;
    assert_eq!(split, (403, "untrusted_issuer".to_owned()));
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "2");
    assert_eq!(versions(&gw, "app").await["live"], json!({"2": 100}));
}

#[tokio::test]
async fn a_90_10_split_holds_over_2000_calls_sticky_clients_stay_and_tags_reach_their_version() {
    let mut gw = Gateway::builder().start().await.unwrap();
    let sticky = "[traffic]\nsticky = \"header:x-user\"\n";
    assert_eq!(deploy(&gw, "app", 1, sticky).await.0, 201);
    assert_eq!(deploy(&gw, "app", 2, sticky).await.0, 200);

    // Every malformed split is refused with invalid_traffic and changes nothing.
    for bad in [
        "nonsense",
        "[90, 10]",
        "{}",
        r#"{"1": 90, "2": 20}"#,
        r#"{"1": 0, "2": 0}"#,
        r#"{"1": "90", "2": 10}"#,
        r#"{"1": 90.0, "2": 10}"#,
        r#"{"1": 90, "9": 10}"#,
        r#"{"one": 100}"#,
    ] {
        let response = traffic(&gw, "app", bad).await;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("invalid_traffic")),
            "{bad}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("sum"), "the fix is named: {message}");
        assert_eq!(versions(&gw, "app").await["live"], json!({"2": 100}));
        assert_eq!(answer(&gw, "/fn/app", &[]).await, "2");
    }
    let unknown = error_code(traffic(&gw, "nope", r#"{"1": 100}"#).await).await;
    assert_eq!(unknown, (404, "function_not_found".to_owned()));

    let set = traffic(&gw, "app", r#"{"1": 90, "2": 10}"#).await;
    assert_eq!(set.status(), 200);
    let counts = spread(&gw, 2_000).await;
    // 10% of 2,000 is 200, σ = √(2000 × 0.1 × 0.9) ≈ 13.4: within 4σ of 200.
    let second = counts.get("2").copied().unwrap_or(0);
    assert!((146..=254).contains(&second), "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 2_000, "{counts:?}");

    // Sticky clients stay put, and the users spread over both versions.
    let pinned = pinned_users(&gw, 100).await;
    let on_second = pinned.values().filter(|v| v.as_str() == "2").count();
    assert!(
        (1..=40).contains(&on_second),
        "{on_second} of 100 users on 2"
    );
    for (user, version) in &pinned {
        for _ in 0..3 {
            assert_eq!(&answer(&gw, "/fn/app", &[("x-user", user)]).await, version);
        }
    }

    // Tags reach their version whatever the weights; a version not live is not.
    assert_eq!(answer(&gw, "/fn/app@2", &[]).await, "2");
    assert_eq!(answer(&gw, "/fn/app@1", &[("x-user", "u1")]).await, "1");
    let missing = gw.client().get(gw.url("/fn/app@3")).send().await.unwrap();
    assert_eq!(
        error_code(missing).await,
        (404, "version_not_found".to_owned())
    );
    let malformed = gw.client().get(gw.url("/fn/app@x")).send().await.unwrap();
    assert_eq!(error_code(malformed).await, (400, "bad_request".to_owned()));

    // The detail shows both live versions and the calls each took.
    let described = gw.function("app").await.unwrap();
    let live = described["live"].as_array().unwrap();
    assert_eq!(live.len(), 2, "{described}");
    assert_eq!(
        (live[0]["weight"].clone(), live[1]["weight"].clone()),
        (json!(90), json!(10))
    );
    assert!(live[1]["requests"].as_u64().unwrap() >= 146, "{described}");

    // The split and every sticky client's version survive a restart.
    gw.restart().await.unwrap();
    assert_eq!(
        versions(&gw, "app").await["live"],
        json!({"1": 90, "2": 10})
    );
    for (user, version) in pinned.iter().take(20) {
        assert_eq!(&answer(&gw, "/fn/app", &[("x-user", user)]).await, version);
    }
    assert_eq!(answer(&gw, "/fn/app@2", &[]).await, "2");

    // A weight of 0 keeps a version callable by tag with no share; a deploy ends the split.
    assert_eq!(
        traffic(&gw, "app", r#"{"1": 100, "2": 0}"#).await.status(),
        200
    );
    assert_eq!(spread(&gw, 50).await.get("2"), None);
    assert_eq!(answer(&gw, "/fn/app@2", &[]).await, "2");
    assert_eq!(deploy(&gw, "app", 3, sticky).await.0, 200);
    assert_eq!(
        spread(&gw, 50).await,
        BTreeMap::from([("3".to_owned(), 50)])
    );
}

#[tokio::test]
async fn versions_past_keep_are_pruned_with_their_originals_but_never_a_live_one() {
    let gw = Gateway::builder()
        .config_toml("[versions]\nkeep = 2\n")
        .start()
        .await
        .unwrap();
    for n in 1..=3 {
        deploy(&gw, "app", n, "").await;
    }
    assert_eq!(kept(&gw, "app").await, vec![2, 3]);
    let originals = || {
        std::fs::read_dir(gw.data_dir().join("originals"))
            .unwrap()
            .count()
    };
    assert_eq!(originals(), 2, "the pruned version's original stayed");
    let gone = error_code(rollback(&gw, "app", r#"{"version": 1}"#).await).await;
    assert_eq!(gone, (404, "version_not_found".to_owned()));

    // Rolled back to 2 and deploying 4: 2 is no longer live, so it is the one to go.
    assert_eq!(rollback(&gw, "app", "").await.status(), 200);
    deploy(&gw, "app", 4, "").await;
    assert_eq!(kept(&gw, "app").await, vec![3, 4]);
    assert_eq!(originals(), 2);
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "4");
    assert_eq!(answer(&gw, "/fn/app@4", &[]).await, "4");
}

#[tokio::test]
async fn a_call_in_flight_finishes_on_the_version_it_started_on_across_a_rollback() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("app", guests::HTTP_SLOW).await.unwrap().status(),
        201
    );
    assert_eq!(
        gw.deploy("app", guests::HTTP_HELLO).await.unwrap().status(),
        200
    );
    assert_eq!(rollback(&gw, "app", "").await.status(), 200);

    // A slow call on version 1, running when the rollback to version 2 lands.
    let slow = {
        let (client, url) = (gw.client().clone(), gw.url("/fn/app?ms=3000"));
        tokio::spawn(async move { client.get(url).send().await.unwrap() })
    };
    wasmgate_tests::eventually(
        "the slow call holds an instance",
        crate::DEADLINE,
        || async { gw.function("app").await.unwrap()["instances"].as_u64() },
        |instances| instances.is_some_and(|n| n >= 1),
    )
    .await
    .unwrap();
    assert_eq!(
        rollback(&gw, "app", r#"{"version": 2}"#).await.status(),
        200
    );
    assert_eq!(
        gw.get_text("/fn/app").await.unwrap(),
        "hello from wasmgate\n",
        "new calls go to the version now live"
    );
    let finished = slow.await.unwrap();
    assert_eq!(finished.status(), 200);
    assert_eq!(finished.text().await.unwrap(), "slept 3000");
}

/// How many of `calls` plain calls of `app` each version answered.
async fn spread(gw: &Gateway, calls: usize) -> BTreeMap<String, usize> {
    let answers: Vec<String> = futures::stream::iter(0..calls)
        .map(|_| answer(gw, "/fn/app", &[]))
        .buffer_unordered(16)
        .collect()
        .await;
    let mut counts = BTreeMap::new();
    for answer in answers {
        *counts.entry(answer).or_insert(0) += 1;
    }
    counts
}

/// The version each of `users` sticky users lands on.
async fn pinned_users(gw: &Gateway, users: usize) -> BTreeMap<String, String> {
    let mut pinned = BTreeMap::new();
    for i in 0..users {
        let user = format!("user-{i}");
        let version = answer(gw, "/fn/app", &[("x-user", &user)]).await;
        pinned.insert(user, version);
    }
    pinned
}

/// `PUT /functions/{name}?canary={share}` with the component at `wasm` signed with `caps` and,
/// when given, `manifest`.
async fn deploy_canary(
    gw: &Gateway,
    name: &str,
    wasm: &str,
    caps: &[Capability],
    manifest: Option<&str>,
    share: &str,
) -> reqwest::Response {
    let bytes = gw
        .sign_with(
            wasm,
            name,
            SignOptions {
                caps: caps.to_vec(),
                manifest: manifest.map(|m| m.as_bytes().to_vec()),
                ..SignOptions::default()
            },
        )
        .unwrap();
    let url = gw.url(&format!("/functions/{name}?canary={share}"));
    let request = match manifest {
        Some(text) => gw.client().put(url).multipart(
            reqwest::multipart::Form::new()
                .part("module", reqwest::multipart::Part::bytes(bytes))
                .part("manifest", reqwest::multipart::Part::text(text.to_owned())),
        ),
        None => gw
            .client()
            .put(url)
            .header("content-type", "application/wasm")
            .body(bytes),
    };
    request.send().await.unwrap()
}

/// Calls `app` until its canary is judged; returns `GET /functions/app`'s `canary`.
async fn until_judged(gw: &Gateway) -> Value {
    wasmgate_tests::eventually(
        "the canary is judged",
        crate::DEADLINE,
        || async {
            for _ in 0..5 {
                gw.client()
                    .get(gw.url("/fn/app?key=v"))
                    .send()
                    .await
                    .unwrap();
            }
            gw.function("app").await.unwrap()["canary"].clone()
        },
        |canary| canary["state"] != "running",
    )
    .await
    .unwrap()
}

/// A short window, and latency left out of the verdict (a debug build's cold start of the new
/// version is no regression).
const CANARY: &str = "[versions]\ncanary_window = \"2s\"\ncanary_latency_margin = 100.0\n";

#[tokio::test]
async fn a_healthy_canary_is_promoted_after_its_window() {
    let gw = Gateway::builder()
        .config_toml(CANARY)
        .start()
        .await
        .unwrap();
    assert_eq!(deploy(&gw, "app", 1, "").await.0, 201);
    let text = manifest(2, "");
    let started = deploy_canary(
        &gw,
        "app",
        guests::CAPS_CONFIG,
        &[Capability::Config],
        Some(&text),
        "50%25",
    )
    .await;
    assert_eq!(started.status(), 200);
    let body: Value = started.json().await.unwrap();
    assert_eq!(body["version"], 2, "{body}");
    assert_eq!(body["canary"]["state"], "running", "{body}");
    assert_eq!(
        versions(&gw, "app").await["live"],
        json!({"1": 50, "2": 50})
    );

    let canary = until_judged(&gw).await;
    assert_eq!(canary["state"], "promoted", "{canary}");
    assert!(
        canary["new_calls"]["calls"].as_u64().unwrap() > 0,
        "{canary}"
    );
    assert_eq!(versions(&gw, "app").await["live"], json!({"2": 100}));
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "2");
}

#[tokio::test]
async fn a_canary_answering_500s_is_rolled_back_automatically_and_bad_canaries_are_refused() {
    let gw = Gateway::builder()
        .config_toml(CANARY)
        .start()
        .await
        .unwrap();
    // Refused before anything is stored: no version to compare with, a share out of range.
    let first = deploy_canary(&gw, "app", guests::HTTP_HELLO, &[], None, "10").await;
    assert_eq!(
        error_code(first).await,
        (409, "no_previous_version".to_owned())
    );
    assert_eq!(deploy(&gw, "app", 1, "").await.0, 201);
    for share in ["0", "100", "150%25", "ten"] {
        let refused = deploy_canary(&gw, "app", guests::HTTP_HELLO, &[], None, share).await;
        assert_eq!(
            error_code(refused).await,
            (400, "invalid_traffic".to_owned()),
            "{share}"
        );
    }
    assert_eq!(kept(&gw, "app").await, vec![1]);

    // Version 2 traps on every call: 500s against none.
    let started = deploy_canary(&gw, "app", guests::LIMITS_PANIC, &[], None, "50").await;
    assert_eq!(started.status(), 200);
    let canary = until_judged(&gw).await;
    assert_eq!(canary["state"], "rolled_back", "{canary}");
    assert!(
        canary["reason"].as_str().unwrap().contains("error rate"),
        "{canary}"
    );
    assert_eq!(versions(&gw, "app").await["live"], json!({"1": 100}));
    assert_eq!(answer(&gw, "/fn/app", &[]).await, "1");
    assert_eq!(kept(&gw, "app").await, vec![1, 2], "the canary stays kept");
}
