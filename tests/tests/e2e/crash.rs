//! Crash safety: the gateway is killed with SIGKILL at random moments while deploys, replaces,
//! rollbacks, deletes, key-value writes and publishes are in flight; after each restart
//! everything that was acknowledged is there, and nothing half-written is visible: a name has an
//! owner exactly when it is deployed, its kept versions are numbered in order with the serving
//! one live, every kept version has its signed original, no original outlives the versions it
//! belonged to, the key-value quota's count of a function's bytes is exactly what it stores, and
//! no schedule slot fired twice.
//!
//! `WASMGATE_CRASH_ROUNDS` sets the number of rounds (default 6), `WASMGATE_CRASH_SEED` the seed
//! of the first round; each round prints its seed, and rerunning with that seed and one round
//! replays its schedule.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, guests};

/// Functions the deploy workers churn, each driven by its own sequential worker.
const CHURNED: [&str; 4] = ["churn-a", "churn-b", "churn-c", "churn-d"];

/// Functions deployed once and never touched by the workers.
const STEADY: [&str; 4] = ["kv", "sink", "warm-hello", "warm-echo"];

/// Subjects published in the test match the trigger of the `sink` function, which also runs on
/// a schedule every second (each slot must fire at most once whatever the kills hit).
const TRIGGER: &str =
    "[[triggers]]\nsubject = \"crash.>\"\n[[schedules]]\ncron = \"* * * * * *\"\nmessage = true\n";

/// What a churned function is: absent or a component with this digest, answering like `kind`.
#[derive(Clone, Debug, PartialEq)]
enum Version {
    Absent,
    Deployed { digest: String, kind: Kind },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Hello,
    Echo,
}

/// The last acknowledged version of one function, and the operation in flight when the gateway
/// died, whose outcome is unknown.
#[derive(Clone, Debug)]
struct Acked {
    version: Version,
    pending: Option<Version>,
}

/// One planned operation on a churned function.
enum Op {
    Deploy {
        bytes: Vec<u8>,
        version: Version,
    },
    /// Back to the previous kept version (whichever that is when it runs).
    Rollback,
    Delete,
}

/// Everything acknowledged so far, across rounds.
#[derive(Default)]
struct Ledger {
    functions: BTreeMap<&'static str, Acked>,
    kv: BTreeMap<String, String>,
    /// The key-value write in flight when the gateway died: stored or not.
    kv_pending: Option<(String, String)>,
    messages: Vec<String>,
    changes: u64,
    /// How each component deployed so far answers, by digest (what a rollback brings back).
    kinds: BTreeMap<String, Kind>,
}

impl Ledger {
    /// Acknowledged function changes, key-value writes and messages so far.
    fn counts(&self) -> (u64, usize, usize) {
        (self.changes, self.kv.len(), self.messages.len())
    }
}

fn env_u64(key: &str) -> Option<u64> {
    std::env::var(key).ok()?.parse().ok()
}

#[tokio::test]
async fn sigkill_at_random_moments_loses_nothing_acknowledged() {
    let rounds = env_u64("WASMGATE_CRASH_ROUNDS").unwrap_or(6);
    let first_seed = env_u64("WASMGATE_CRASH_SEED").unwrap_or_else(rand::random);
    let mut gw = Gateway::builder()
        .config_toml("[events]\nbackoff = \"10ms\"\n")
        .start()
        .await
        .unwrap();
    // The key-value and event functions stay deployed; the churned ones come and go.
    let kv = gw
        .deploy_granted("kv", guests::CAPS_KV, &[Capability::Keyvalue], "")
        .await
        .unwrap();
    assert_eq!(kv.status(), 201);
    let sink = gw
        .deploy_granted(
            "sink",
            guests::CAPS_EVENTS,
            &[Capability::Keyvalue, Capability::Messaging],
            TRIGGER,
        )
        .await
        .unwrap();
    assert_eq!(sink.status(), 201);
    // Compiled once here, so churned deploys of the same code reuse the artifact and many fit
    // in a round.
    for (name, wasm) in [
        ("warm-hello", guests::HTTP_HELLO),
        ("warm-echo", guests::HTTP_ECHO),
    ] {
        assert_eq!(gw.deploy(name, wasm).await.unwrap().status(), 201);
    }
    let ledger = Arc::new(Mutex::new(Ledger {
        functions: CHURNED
            .iter()
            .map(|name| {
                let acked = Acked {
                    version: Version::Absent,
                    pending: None,
                };
                (*name, acked)
            })
            .collect(),
        ..Ledger::default()
    }));
    for round in 0..rounds {
        let seed = first_seed.wrapping_add(round);
        eprintln!(
            "crash round {round}: seed {seed} (replay: WASMGATE_CRASH_SEED={seed} WASMGATE_CRASH_ROUNDS=1)"
        );
        let acknowledged = run_round(&mut gw, &ledger, round, seed).await;
        eprintln!("crash round {round}: {acknowledged}");
        check(&gw, &ledger, seed).await;
    }
}

/// Starts every worker, kills the gateway after a random delay, and restarts it; says what the
/// round got acknowledged before the kill.
async fn run_round(gw: &mut Gateway, ledger: &Arc<Mutex<Ledger>>, round: u64, seed: u64) -> String {
    let before = ledger.lock().unwrap().counts();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut workers = Vec::new();
    for name in CHURNED {
        let ops = plan(gw, &mut rng, name);
        for op in &ops {
            if let Op::Deploy {
                version: Version::Deployed { digest, kind },
                ..
            } = op
            {
                ledger.lock().unwrap().kinds.insert(digest.clone(), *kind);
            }
        }
        let client = gw.client().clone();
        let url = gw.url(&format!("/functions/{name}"));
        let ledger = ledger.clone();
        workers.push(tokio::spawn(churn(client, url, name, ops, ledger)));
    }
    let kv_client = gw.client().clone();
    let kv_url = gw.url("/fn/kv/crash");
    let values: Vec<(String, String)> = (0..200)
        .map(|i| {
            (
                format!("r{round}-k{i}"),
                format!("{:x}", rng.random::<u64>()),
            )
        })
        .collect();
    workers.push(tokio::spawn(write_kv(
        kv_client,
        kv_url,
        values,
        ledger.clone(),
    )));
    let publish_client = gw.client().clone();
    let publish_base = gw.url("/publish/");
    let topics: Vec<String> = (0..200).map(|i| format!("crash.r{round}.m{i}")).collect();
    workers.push(tokio::spawn(publish(
        publish_client,
        publish_base,
        topics,
        ledger.clone(),
    )));
    let kill_after = Duration::from_millis(rng.random_range(20..1500));
    tokio::time::sleep(kill_after).await;
    gw.kill().await.unwrap();
    for worker in workers {
        worker.await.unwrap();
    }
    gw.restart().await.unwrap();
    let after = ledger.lock().unwrap().counts();
    format!(
        "killed after {kill_after:?}: {} function changes, {} kv writes, {} messages acknowledged",
        after.0 - before.0,
        after.1 - before.1,
        after.2 - before.2
    )
}

/// A random sequence of deploys (alternating components, each signed anew, so each has its own
/// digest), rollbacks and deletes for `name`.
fn plan(gw: &Gateway, rng: &mut StdRng, name: &str) -> Vec<Op> {
    (0..40)
        .map(|_| {
            if rng.random_ratio(1, 5) {
                return Op::Delete;
            }
            if rng.random_ratio(1, 4) {
                return Op::Rollback;
            }
            let (wasm, kind) = if rng.random_bool(0.5) {
                (guests::HTTP_HELLO, Kind::Hello)
            } else {
                (guests::HTTP_ECHO, Kind::Echo)
            };
            let bytes = gw.sign(wasm, name, &[]).unwrap();
            let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
            Op::Deploy {
                bytes,
                version: Version::Deployed { digest, kind },
            }
        })
        .collect()
}

/// Applies `ops` one at a time, recording each acknowledged outcome; the one in flight when the
/// gateway dies stays pending.
async fn churn(
    client: reqwest::Client,
    url: String,
    name: &'static str,
    ops: Vec<Op>,
    ledger: Arc<Mutex<Ledger>>,
) {
    for op in ops {
        let (request, target) = match op {
            Op::Deploy { bytes, version } => (
                client
                    .put(&url)
                    .header("content-type", "application/wasm")
                    .body(bytes),
                version,
            ),
            Op::Rollback => {
                // Only this worker changes `name`, so the previous version read now is the one
                // the rollback goes back to.
                let Ok(response) = client.get(format!("{url}/versions")).send().await else {
                    return;
                };
                if response.status() == 404 {
                    continue;
                }
                assert_eq!(response.status(), 200, "{name}: versions");
                let Ok(versions) = response.json::<serde_json::Value>().await else {
                    return;
                };
                let Some(digest) = previous_digest(&versions) else {
                    continue;
                };
                let kind = ledger.lock().unwrap().kinds[&digest];
                (
                    client.post(format!("{url}/rollback")),
                    Version::Deployed { digest, kind },
                )
            }
            Op::Delete => (client.delete(&url), Version::Absent),
        };
        ledger
            .lock()
            .unwrap()
            .functions
            .get_mut(name)
            .unwrap()
            .pending = Some(target.clone());
        let Ok(response) = request.send().await else {
            return;
        };
        let status = response.status().as_u16();
        let acknowledged = match target {
            Version::Absent => matches!(status, 204 | 404),
            Version::Deployed { .. } => matches!(status, 200 | 201),
        };
        assert!(acknowledged, "{name}: unexpected {status} for {target:?}");
        let mut ledger = ledger.lock().unwrap();
        let acked = ledger.functions.get_mut(name).unwrap();
        acked.version = target;
        acked.pending = None;
        ledger.changes += 1;
    }
}

/// The digest of the newest kept version older than the live one, from a `GET .../versions`
/// answer; `None` when there is none.
fn previous_digest(versions: &serde_json::Value) -> Option<String> {
    let live: u64 = versions["live"].as_object()?.keys().next()?.parse().ok()?;
    versions["versions"]
        .as_array()?
        .iter()
        .filter(|v| v["version"].as_u64().is_some_and(|n| n < live))
        .max_by_key(|v| v["version"].as_u64())
        .and_then(|v| v["digest"].as_str())
        .map(str::to_owned)
}

/// Writes each key through the `kv` guest; a 200 is an acknowledged write.
async fn write_kv(
    client: reqwest::Client,
    url: String,
    values: Vec<(String, String)>,
    ledger: Arc<Mutex<Ledger>>,
) {
    for (key, value) in values {
        ledger.lock().unwrap().kv_pending = Some((key.clone(), value.clone()));
        let sent = client
            .put(format!("{url}/{key}"))
            .body(value.clone())
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == 200 => {
                let mut ledger = ledger.lock().unwrap();
                ledger.kv.insert(key, value);
                ledger.kv_pending = None;
            }
            Ok(response) => panic!("kv write {key}: {}", response.status()),
            Err(_) => return,
        }
    }
}

/// Publishes one message per topic; a 202 means the bus accepted it.
async fn publish(
    client: reqwest::Client,
    base: String,
    topics: Vec<String>,
    ledger: Arc<Mutex<Ledger>>,
) {
    for topic in topics {
        match client
            .post(format!("{base}{topic}"))
            .body(topic.clone())
            .send()
            .await
        {
            Ok(response) if response.status() == 202 => {
                ledger.lock().unwrap().messages.push(topic);
            }
            Ok(response) => panic!("publish {topic}: {}", response.status()),
            Err(_) => return,
        }
    }
}

/// After a restart: every function is at its acknowledged version (or the one in flight), serves
/// as that version does, every artifact's bytes match its name, every acknowledged key reads back
/// and every accepted message reaches its handler. The ledger then takes what was found.
async fn check(gw: &Gateway, ledger: &Arc<Mutex<Ledger>>, seed: u64) {
    let listed: BTreeMap<String, String> = gw
        .functions()
        .await
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["digest"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let (functions, mut kv, kv_pending, messages) = {
        let ledger = ledger.lock().unwrap();
        (
            ledger.functions.clone(),
            ledger.kv.clone(),
            ledger.kv_pending.clone(),
            ledger.messages.clone(),
        )
    };
    for name in listed.keys() {
        assert!(
            STEADY.contains(&name.as_str()) || functions.contains_key(name.as_str()),
            "seed {seed}: unknown function {name} listed"
        );
    }
    let mut found = BTreeMap::new();
    for (name, acked) in functions {
        let now = match listed.get(name) {
            None => Version::Absent,
            Some(digest) => [Some(&acked.version), acked.pending.as_ref()]
                .into_iter()
                .flatten()
                .find(|v| matches!(v, Version::Deployed { digest: d, .. } if d == digest))
                .cloned()
                .unwrap_or_else(|| {
                    panic!("seed {seed}: {name} is at {digest}, acknowledged {acked:?}")
                }),
        };
        assert!(
            now == acked.version || Some(&now) == acked.pending.as_ref(),
            "seed {seed}: {name} is {now:?}, acknowledged {acked:?}"
        );
        if let Version::Deployed { kind, .. } = &now {
            let response = gw
                .client()
                .get(gw.url(&format!("/fn/{name}")))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "seed {seed}: {name} does not serve");
            let body = response.text().await.unwrap();
            let right = match kind {
                Kind::Hello => body == "hello from wasmgate\n",
                Kind::Echo => body.starts_with("{\"method\":\"GET\""),
            };
            assert!(right, "seed {seed}: {name} as {kind:?} answered {body:?}");
        }
        // A name's owner is written and released in the record's own transaction.
        let owner: serde_json::Value = gw
            .client()
            .get(gw.url(&format!("/functions/{name}/owner")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let expected = match &now {
            Version::Absent => serde_json::Value::Null,
            Version::Deployed { .. } => gw.key().issuer().to_string().into(),
        };
        assert_eq!(
            owner["owner"], expected,
            "seed {seed}: {name} is {now:?} with owner {owner}"
        );
        found.insert(name, now);
    }
    check_artifacts(gw, seed);
    check_originals(gw, &listed, seed).await;
    for (key, value) in &kv {
        let response = gw
            .client()
            .get(gw.url(&format!("/fn/kv/crash/{key}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "seed {seed}: kv {key}");
        assert_eq!(
            &response.text().await.unwrap(),
            value,
            "seed {seed}: kv {key}"
        );
    }
    // The write in flight at the kill either happened whole or not at all, and the key-value
    // quota's count matches exactly what is stored.
    if let Some((key, value)) = kv_pending {
        let response = gw
            .client()
            .get(gw.url(&format!("/fn/kv/crash/{key}")))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => {
                assert_eq!(
                    response.text().await.unwrap(),
                    value,
                    "seed {seed}: kv {key}"
                );
                kv.insert(key, value);
            }
            status => assert_eq!(status, 404, "seed {seed}: kv {key}"),
        }
    }
    let stored: u64 = kv.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum();
    let counted = gw.function("kv").await.unwrap()["kv_bytes"].as_u64();
    assert_eq!(counted, Some(stored), "seed {seed}: kv usage");
    // Accepted messages are delivered after the restart if they were not before.
    for topic in &messages {
        crate::wait_until_handled(gw, "sink", topic).await;
    }
    // No schedule slot fired twice: each claim was stored before its fire, kill or not.
    let slots = crate::schedules::fired(gw, "sink").await;
    crate::schedules::assert_each_slot_fired_once(gw, "sink", &slots).await;
    let mut ledger = ledger.lock().unwrap();
    ledger.kv = kv;
    ledger.kv_pending = None;
    for (name, now) in found {
        ledger.functions.insert(
            name,
            Acked {
                version: now,
                pending: None,
            },
        );
    }
}

/// Version state after a restart: each listed function keeps at most `versions.keep` (the
/// default, 10) versions numbered in increasing order below its next number, exactly one of them
/// live with all traffic, and that one is the version serving (the listed digest). Returns the
/// originals every kept version names.
async fn check_versions(
    gw: &Gateway,
    listed: &BTreeMap<String, String>,
    seed: u64,
) -> std::collections::BTreeSet<String> {
    let mut originals = std::collections::BTreeSet::new();
    for (name, digest) in listed {
        let versions = gw
            .get_json(&format!("/functions/{name}/versions"))
            .await
            .unwrap();
        let kept = versions["versions"].as_array().unwrap();
        let numbers: Vec<u64> = kept
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        assert!(
            !numbers.is_empty() && numbers.len() <= 10,
            "seed {seed}: {name} keeps {numbers:?}"
        );
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: {name} keeps {numbers:?}"
        );
        let next = versions["next_version"].as_u64().unwrap();
        assert!(
            numbers.iter().all(|n| *n < next),
            "seed {seed}: {name} keeps {numbers:?}, next {next}"
        );
        let live = versions["live"].as_object().unwrap();
        assert_eq!(live.len(), 1, "seed {seed}: {name} live {live:?}");
        let (live, weight) = live.iter().next().unwrap();
        assert_eq!(weight, 100, "seed {seed}: {name}");
        let serving = kept
            .iter()
            .find(|v| v["version"].as_u64() == live.parse().ok())
            .unwrap_or_else(|| panic!("seed {seed}: {name}'s live version {live} is not kept"));
        assert_eq!(
            serving["digest"], **digest,
            "seed {seed}: {name}'s live version is not the one serving"
        );
        originals.extend(
            kept.iter()
                .filter_map(|v| v["original"].as_str())
                .map(str::to_owned),
        );
    }
    originals
}

/// The originals after a restart: each named by the sha256 of its bytes, exactly those the kept
/// versions of the listed functions name (no version without its original, no original without
/// a version), no temp file; and every function re-verified and serving.
async fn check_originals(gw: &Gateway, listed: &BTreeMap<String, String>, seed: u64) {
    let stored = digest_named_files(gw, "originals", ".wasm", seed);
    let named = check_versions(gw, listed, seed).await;
    assert_eq!(
        stored, named,
        "seed {seed}: originals and kept versions differ"
    );
    for function in gw.functions().await.unwrap() {
        assert_eq!(function["status"], "serving", "seed {seed}: {function}");
    }
}

/// Every file in the artifact store is named by the sha256 of its bytes; no temp file survives
/// the restart.
fn check_artifacts(gw: &Gateway, seed: u64) {
    digest_named_files(gw, "artifacts", ".cwasm", seed);
}

/// The files of the content-addressed store `dir` in the data dir, as `sha256:<hex>`, each
/// checked to be named `<sha256 of its bytes><suffix>` (a stray or temp file fails).
fn digest_named_files(
    gw: &Gateway,
    dir: &str,
    suffix: &str,
    seed: u64,
) -> std::collections::BTreeSet<String> {
    let mut stored = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(gw.data_dir().join(dir)).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name
            .strip_suffix(suffix)
            .unwrap_or_else(|| panic!("seed {seed}: stray file {name} among {dir}"));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            stem,
            "seed {seed}: {dir}/{name} does not match its name"
        );
        stored.insert(format!("sha256:{stem}"));
    }
    stored
}
