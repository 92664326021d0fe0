//! Tenancy end to end: two teams sharing one gateway. Issuers own names (first deploy, the
//! operator's lists, admin transfers), key-value data belongs to (owner, function) and outlives a
//! delete unless purged, the signature covers the manifest, its validity and audience, and an
//! older build never replaces a newer one. Every refusal leaves what was deployed serving.

use crate::{DEADLINE, error_code};
use reqwest::Method;
use serde_json::{Value, json};
use std::time::{Duration, SystemTime};
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, RedisServer, SIGNED_FOR, eventually, guests};

/// `wasm` signed by `key` for `name` with `options` (the rest as given).
fn signed(key: &SigningKey, wasm: &str, name: &str, options: SignOptions) -> Vec<u8> {
    let bytes = std::fs::read(wasm).unwrap();
    let options = SignOptions {
        name: name.to_owned(),
        ..options
    };
    wasmgate_claims::sign(&bytes, key, &options, SystemTime::now()).unwrap()
}

/// The key-value guest signed by `key` for `name`, granted `keyvalue`, valid for an hour.
fn kv_guest(key: &SigningKey, name: &str) -> Vec<u8> {
    signed(
        key,
        guests::CAPS_KV,
        name,
        SignOptions {
            caps: vec![Capability::Keyvalue],
            expires_in: Some(SIGNED_FOR),
            ..SignOptions::default()
        },
    )
}

/// Deploys the key-value guest signed by `key` for `name`; the (successful) status.
async fn deploy_kv(gw: &Gateway, key: &SigningKey, name: &str) -> u16 {
    status(gw.deploy_bytes(name, kv_guest(key, name)).await.unwrap()).await
}

async fn call(gw: &Gateway, method: Method, path: &str, body: &str) -> (u16, String) {
    let response = gw
        .client()
        .request(method, gw.url(path))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn status(response: reqwest::Response) -> u16 {
    let status = response.status().as_u16();
    assert!(
        status < 300,
        "expected success, got {status}: {}",
        response.text().await.unwrap()
    );
    status
}

async fn delete(gw: &Gateway, path: &str) -> reqwest::Response {
    gw.client().delete(gw.url(path)).send().await.unwrap()
}

/// The two-team replay of the issue, on one key-value backend.
async fn two_teams(gw: &mut Gateway, team_b: &SigningKey) {
    // Team A is the harness's own key.
    deploy_kv(gw, gw.key(), "billing").await;
    assert_eq!(
        call(gw, Method::PUT, "/fn/billing/ledger/total", "1000").await,
        (200, "ok".into())
    );

    // Team B signs the same name: refused, naming the owner; A's version and data stay.
    let refused = gw
        .deploy_bytes("billing", kv_guest(team_b, "billing"))
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "name_owned", "{body}");
    let owner = gw.key().issuer().to_string();
    assert!(
        body["error"]["message"].as_str().unwrap().contains(&owner),
        "{body}"
    );
    assert_eq!(gw.function("billing").await.unwrap()["owner"], owner);
    assert_eq!(
        call(gw, Method::GET, "/fn/billing/ledger/total", "").await,
        (200, "1000".into())
    );

    // Ownership is durable: a crash changes nothing.
    gw.kill().await.unwrap();
    gw.restart().await.unwrap();
    let (code, _) = error_code(
        gw.deploy_bytes("billing", kv_guest(team_b, "billing"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(code, 403, "ownership survives a kill -9");

    // An admin deletes the function (keeping data): the name is free, and B's new function
    // starts from nothing.
    assert_eq!(delete(gw, "/functions/billing").await.status(), 204);
    deploy_kv(gw, team_b, "billing").await;
    assert_eq!(
        call(gw, Method::GET, "/fn/billing/ledger/total", "").await,
        (404, "<none>".into()),
        "the new owner never sees the old owner's data"
    );
    assert_eq!(
        call(gw, Method::PUT, "/fn/billing/ledger/total", "5")
            .await
            .0,
        200
    );

    // A gets the name back: its kept data is there again, B's is not.
    assert_eq!(delete(gw, "/functions/billing").await.status(), 204);
    deploy_kv(gw, gw.key(), "billing").await;
    assert_eq!(
        call(gw, Method::GET, "/fn/billing/ledger/total", "").await,
        (200, "1000".into()),
        "a delete without purge keeps the owner's data"
    );

    // A delete with purge removes it for good.
    let purged = delete(gw, "/functions/billing?purge=true").await;
    assert_eq!(purged.status(), 200);
    let body: Value = purged.json().await.unwrap();
    assert_eq!(body["purged_keys"], 1, "{body}");
    deploy_kv(gw, gw.key(), "billing").await;
    assert_eq!(
        call(gw, Method::GET, "/fn/billing/ledger/total", "").await,
        (404, "<none>".into()),
        "purged data is gone"
    );
    // A misspelt switch is refused and deletes nothing.
    let (code, error) = error_code(delete(gw, "/functions/billing?prge=true").await).await;
    assert_eq!((code, error.as_str()), (400, "bad_request"));
    assert_eq!(gw.function("billing").await.unwrap()["name"], "billing");
}

#[tokio::test]
async fn a_second_team_can_neither_take_a_name_nor_read_its_data_on_the_embedded_store() {
    let team_b = SigningKey::generate();
    let mut gw = Gateway::builder()
        .arg("--trust")
        .arg(&team_b.issuer().to_string())
        .start()
        .await
        .unwrap();
    two_teams(&mut gw, &team_b).await;
}

#[tokio::test]
async fn a_second_team_can_neither_take_a_name_nor_read_its_data_on_redis() {
    let redis = RedisServer::start().await.unwrap();
    let team_b = SigningKey::generate();
    let mut gw = Gateway::builder()
        .config_toml(&format!(
            "[kv]\nbackend = \"redis\"\nurl = \"{}\"\n",
            redis.url()
        ))
        .arg("--trust")
        .arg(&team_b.issuer().to_string())
        .start()
        .await
        .unwrap();
    two_teams(&mut gw, &team_b).await;
}

#[tokio::test]
async fn an_issuer_given_names_signs_only_those_and_an_admin_transfers_a_name() {
    let team_b = SigningKey::generate();
    let b = team_b.issuer().to_string();
    let gw = Gateway::builder()
        .arg("--trust")
        .arg(&b)
        .config_toml(&format!(
            "[admission.issuer_names]\n\"{b}\" = [\"team-b-*\"]\n"
        ))
        .start()
        .await
        .unwrap();
    let hello = |key: &SigningKey, name: &str| {
        signed(
            key,
            guests::HTTP_HELLO,
            name,
            SignOptions {
                expires_in: Some(SIGNED_FOR),
                ..SignOptions::default()
            },
        )
    };

    status(
        gw.deploy_bytes("team-b-cart", hello(&team_b, "team-b-cart"))
            .await
            .unwrap(),
    )
    .await;
    let (code, error) = error_code(
        gw.deploy_bytes("checkout", hello(&team_b, "checkout"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, error.as_str()), (403, "name_not_allowed"));
    assert_eq!(
        gw.client()
            .get(gw.url("/functions/checkout"))
            .send()
            .await
            .unwrap()
            .status(),
        404,
        "nothing was deployed"
    );

    // The harness key (no list) deploys `checkout` and owns it; refused transfers leave it so.
    status(
        gw.deploy_bytes("checkout", hello(gw.key(), "checkout"))
            .await
            .unwrap(),
    )
    .await;
    let owner_path = gw.url("/functions/checkout/owner");
    let owner: Value = gw
        .client()
        .get(&owner_path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(owner["owner"], gw.key().issuer().to_string());

    let stranger = SigningKey::generate().issuer().to_string();
    let transfer = |body: Value| gw.client().put(&owner_path).json(&body).send();
    let (code, error) = error_code(transfer(json!({ "issuer": stranger })).await.unwrap()).await;
    assert_eq!((code, error.as_str()), (403, "untrusted_issuer"));
    let (code, _) = error_code(transfer(json!({ "owner": b })).await.unwrap()).await;
    assert_eq!(code, 400, "a body without `issuer` is refused");
    let anonymous = reqwest::Client::new()
        .put(&owner_path)
        .json(&json!({ "issuer": b }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401, "only an admin transfers");
    let owner: Value = gw
        .client()
        .get(&owner_path)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        owner["owner"],
        gw.key().issuer().to_string(),
        "refused transfers change nothing"
    );
}

#[tokio::test]
async fn an_admin_transfer_lets_only_the_new_owner_deploy() {
    let team_b = SigningKey::generate();
    let b = team_b.issuer().to_string();
    let mut gw = Gateway::builder()
        .arg("--trust")
        .arg(&b)
        .start()
        .await
        .unwrap();
    deploy_kv(&gw, gw.key(), "billing").await;
    let moved = gw
        .client()
        .put(gw.url("/functions/billing/owner"))
        .json(&json!({ "issuer": b }))
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    let body: Value = moved.json().await.unwrap();
    assert_eq!(
        body["previous_owner"],
        gw.key().issuer().to_string(),
        "{body}"
    );

    // The transfer is durable, A may no longer deploy, B may.
    gw.kill().await.unwrap();
    gw.restart().await.unwrap();
    let (code, error) = error_code(
        gw.deploy_bytes("billing", kv_guest(gw.key(), "billing"))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, error.as_str()), (403, "name_owned"));
    assert_eq!(deploy_kv(&gw, &team_b, "billing").await, 200);
}

#[tokio::test]
async fn the_signature_covers_the_manifest_and_unsigned_ones_only_tune() {
    let gw = Gateway::builder().start().await.unwrap();
    let plain = |manifest: Option<&str>| {
        signed(
            gw.key(),
            guests::CAPS_KV,
            "kv",
            SignOptions {
                caps: vec![Capability::Keyvalue],
                expires_in: Some(SIGNED_FOR),
                manifest: manifest.map(|m| m.as_bytes().to_vec()),
                ..SignOptions::default()
            },
        )
    };
    let widening = "[keyvalue]\nshared = [\"orders\"]\n[[triggers]]\nsubject = \">\"\n";

    // Unsigned: tuning is fine, widening keys are refused by name.
    let (code, error) =
        error_code(gw.deploy_parts("kv", plain(None), widening).await.unwrap()).await;
    assert_eq!((code, error.as_str()), (403, "manifest_unsigned"));
    let refused: Value = gw
        .deploy_parts("kv", plain(None), widening)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("triggers") && message.contains("keyvalue.shared"),
        "{message}"
    );
    status(
        gw.deploy_parts("kv", plain(None), "[scale]\nmax_instances = 2\n")
            .await
            .unwrap(),
    )
    .await;

    // Signed: exactly the signed bytes deploy; a changed or missing manifest does not.
    let signed_kv = plain(Some(widening));
    let changed = widening.replace('>', "orders.>");
    let (code, error) = error_code(
        gw.deploy_parts("kv", signed_kv.clone(), &changed)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((code, error.as_str()), (403, "manifest_mismatch"));
    let (code, error) = error_code(gw.deploy_bytes("kv", signed_kv.clone()).await.unwrap()).await;
    assert_eq!((code, error.as_str()), (403, "manifest_mismatch"));
    assert_eq!(
        gw.function("kv").await.unwrap()["manifest"]["scale"]["max_instances"],
        2,
        "the refused deploys changed nothing"
    );
    status(gw.deploy_parts("kv", signed_kv, widening).await.unwrap()).await;
    assert_eq!(
        gw.function("kv").await.unwrap()["manifest"]["keyvalue"]["shared"],
        json!(["orders"])
    );
}

#[tokio::test]
async fn a_signature_needs_a_bounded_expiry_and_this_gateways_audience() {
    let gw = Gateway::builder()
        .config_toml("[admission]\naudience = \"prod-eu\"\nmax_validity = \"30days\"\n")
        .start()
        .await
        .unwrap();
    let hello = |expires_in: Option<Duration>, audience: Option<&str>| {
        signed(
            gw.key(),
            guests::HTTP_HELLO,
            "hello",
            SignOptions {
                expires_in,
                audience: audience.map(str::to_owned),
                ..SignOptions::default()
            },
        )
    };
    let day = Duration::from_secs(24 * 3600);
    for (bytes, expected) in [
        (hello(None, Some("prod-eu")), "expiry_required"),
        (hello(Some(31 * day), Some("prod-eu")), "validity_too_long"),
        (hello(Some(day), Some("staging")), "audience_mismatch"),
        (hello(Some(day), None), "audience_mismatch"),
    ] {
        let (code, error) = error_code(gw.deploy_bytes("hello", bytes).await.unwrap()).await;
        assert_eq!((code, error.as_str()), (403, expected));
    }
    status(
        gw.deploy_bytes("hello", hello(Some(day), Some("prod-eu")))
            .await
            .unwrap(),
    )
    .await;

    // A gateway without an audience refuses a component meant for one.
    let open = Gateway::builder().start().await.unwrap();
    let for_prod = signed(
        open.key(),
        guests::HTTP_HELLO,
        "hello",
        SignOptions {
            expires_in: Some(day),
            audience: Some("prod-eu".into()),
            ..SignOptions::default()
        },
    );
    let (code, error) = error_code(open.deploy_bytes("hello", for_prod).await.unwrap()).await;
    assert_eq!((code, error.as_str()), (403, "audience_mismatch"));
}

#[tokio::test]
async fn an_older_build_never_replaces_a_newer_one_unless_an_admin_asks() {
    let gw = Gateway::builder().start().await.unwrap();
    let bytes = std::fs::read(guests::HTTP_HELLO).unwrap();
    let at = |ago: u64| {
        let options = SignOptions {
            name: "hello".into(),
            expires_in: Some(SIGNED_FOR),
            ..SignOptions::default()
        };
        let when = SystemTime::now() - Duration::from_secs(ago);
        wasmgate_claims::sign(&bytes, gw.key(), &options, when).unwrap()
    };
    let (older, newer) = (at(120), at(0));
    status(gw.deploy_bytes("hello", newer).await.unwrap()).await;
    let deployed = gw.function("hello").await.unwrap()["claims"]["iat"].clone();

    let (code, error) = error_code(gw.deploy_bytes("hello", older.clone()).await.unwrap()).await;
    assert_eq!((code, error.as_str()), (409, "downgrade"));
    assert_eq!(
        gw.function("hello").await.unwrap()["claims"]["iat"],
        deployed
    );

    let allowed = gw
        .client()
        .put(gw.url("/functions/hello?allow_downgrade=true"))
        .header("content-type", "application/wasm")
        .body(older)
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    assert_ne!(
        gw.function("hello").await.unwrap()["claims"]["iat"],
        deployed
    );
}

#[tokio::test]
async fn a_function_whose_signature_expires_stops_serving_with_403_expired() {
    const VALID_FOR: Duration = Duration::from_secs(10);
    let gw = Gateway::builder().start().await.unwrap();
    let short = signed(
        gw.key(),
        guests::HTTP_HELLO,
        "hello",
        SignOptions {
            // Long enough to deploy and call it on a loaded machine (3 s was not, once).
            expires_in: Some(VALID_FOR),
            ..SignOptions::default()
        },
    );
    status(gw.deploy_bytes("hello", short).await.unwrap()).await;
    assert_eq!(
        gw.get_text("/fn/hello").await.unwrap(),
        "hello from wasmgate\n"
    );
    // Past `exp` (whole seconds, so up to a second later than signed), the warm function stops.
    let answer = || async {
        let response = gw.client().get(gw.url("/fn/hello")).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let (_, body) = eventually("the call refused", VALID_FOR + DEADLINE, answer, |a| {
        a.0 == 403
    })
    .await
    .unwrap();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"]["code"], "expired", "{body}");
    let listed = gw.function("hello").await.unwrap();
    assert_eq!(listed["status"], "expired", "{listed}");
    assert_eq!(listed["reason"]["code"], "expired", "{listed}");
}
