//! Cron triggers end to end: a 6-field `* * * * * *` schedule fires through the real binary every
//! second, delivering a CloudEvent whose `time` is the slot; each slot fires once across a
//! SIGKILL and restart, a slot missed while down fires once at start with catch-up on and not at
//! all with it off; three clustered nodes fire each slot once between them; a bad schedule is
//! refused with 400 and changes nothing. The `caps_events` guest counts every fire by its
//! CloudEvent id (`fires/{ce-id}`) and logs its `ce-time` (`log/{topic}`).

use crate::error_code;
use chrono::{DateTime, Utc};
use std::collections::BTreeSet;
use std::time::Duration;
use wasmgate_config::Capability;
use wasmgate_tests::{ClusterHarness, Gateway, eventually, guests};

use crate::events::{CAPS, deploy};

/// Every second, to the guest's message handler; the guest scales to zero 100 ms after each fire.
const EVERY_SECOND: &str = "[[schedules]]\ncron = \"* * * * * *\"\nmessage = true\n[keyvalue]\nshared = [\"events\"]\n[scale]\nidle_timeout = \"100ms\"\n";

/// The topic the guest sees schedule 0 of `function` fire on.
fn topic(function: &str) -> String {
    format!("wasmgate.schedule.{function}.0")
}

/// `GET /fn/{function}/{key}` from the guest: what it stored (empty when nothing).
async fn read(gw: &Gateway, function: &str, key: &str) -> String {
    let response = gw
        .client()
        .get(gw.url(&format!("/fn/{function}/{key}")))
        .send()
        .await
        .unwrap();
    if response.status() == 404 {
        return String::new();
    }
    response.text().await.unwrap()
}

/// The slots `function`'s schedule 0 fired, in order, as the guest logged them.
pub(crate) async fn fired(gw: &Gateway, function: &str) -> Vec<DateTime<Utc>> {
    read(gw, function, &format!("log/{}", topic(function)))
        .await
        .lines()
        .map(|line| {
            DateTime::parse_from_rfc3339(line)
                .unwrap_or_else(|e| panic!("ce-time `{line}`: {e}"))
                .with_timezone(&Utc)
        })
        .collect()
}

/// Waits until `function` has fired at least `n` slots; returns them.
async fn fired_at_least(gw: &Gateway, function: &str, n: usize) -> Vec<DateTime<Utc>> {
    eventually(
        &format!("{function} fired {n} slots"),
        crate::DEADLINE,
        || fired(gw, function),
        |slots| slots.len() >= n,
    )
    .await
    .unwrap()
}

/// Every logged slot is whole-second, logged once, and counted once by its CloudEvent id.
pub(crate) async fn assert_each_slot_fired_once(
    gw: &Gateway,
    function: &str,
    slots: &[DateTime<Utc>],
) {
    let distinct: BTreeSet<_> = slots.iter().collect();
    assert_eq!(distinct.len(), slots.len(), "a slot fired twice: {slots:?}");
    for slot in slots {
        assert_eq!(slot.timestamp_subsec_nanos(), 0, "{slot}");
        let id = format!(
            "{function}/0/{}",
            slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        assert_eq!(
            read(gw, function, &format!("fires/{id}")).await,
            "1",
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_six_field_schedule_fires_every_second_with_the_slot_as_the_cloudevent_time() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(&gw, "ticker", EVERY_SECOND).await;
    let slots = fired_at_least(&gw, "ticker", 3).await;
    assert_each_slot_fired_once(&gw, "ticker", &slots).await;
    // Consecutive slots, one second apart: none skipped while the gateway ran.
    for pair in slots.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 1, "{slots:?}");
    }
    let record = read(&gw, "ticker", &format!("record/{}", topic("ticker"))).await;
    assert!(
        record.starts_with("content-type: application/json\n"),
        "{record}"
    );
    for attribute in [
        "ce-specversion: 1.0\n",
        "ce-type: dev.wasmgate.schedule\n",
        "ce-source: /wasmgate/functions/ticker/schedules/0\n",
        "ce-time: ",
    ] {
        assert!(record.contains(attribute), "{attribute} missing: {record}");
    }
    let delivered = gw
        .counter(
            "wasmgate_schedule_fires_total",
            &[("function", "ticker"), ("outcome", "delivered")],
        )
        .await
        .unwrap();
    assert!(delivered >= 3.0, "{delivered}");

    // Scale to zero between fires: nothing is held once the keep-alive after a fire ends.
    eventually(
        "ticker is cold between fires",
        crate::DEADLINE,
        || async {
            let f = gw.function("ticker").await.unwrap();
            (
                f["state"].as_str().unwrap_or("").to_owned(),
                f["instances"].clone(),
            )
        },
        |(state, instances)| state == "cold" && instances == 0,
    )
    .await
    .unwrap();
}

/// Kills the gateway after a fire, keeps it down over two slots, starts it again and returns
/// the slots fired before the kill and every slot fired once it is back (at least three).
async fn across_a_restart(gw: &mut Gateway) -> (Vec<DateTime<Utc>>, Vec<DateTime<Utc>>) {
    deploy(gw, "ticker", EVERY_SECOND).await;
    fired_at_least(gw, "ticker", 2).await;
    gw.kill().await.unwrap();
    let killed_at = Utc::now();
    // Down over at least two whole slots (the only wall-clock wait here).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    gw.start_again().await.unwrap();
    let mut before = fired(gw, "ticker").await;
    before.retain(|slot| *slot <= killed_at);
    let all = fired_at_least(gw, "ticker", before.len() + 3).await;
    assert_each_slot_fired_once(gw, "ticker", &all).await;
    let after = all[before.len()..].to_vec();
    (before, after)
}

#[tokio::test]
async fn a_slot_missed_while_down_fires_once_at_start_with_catch_up_and_none_fires_twice() {
    let mut gw = Gateway::builder().start().await.unwrap();
    let (before, after) = across_a_restart(&mut gw).await;
    let last_before = *before.last().unwrap();
    // After the restart: first the one catch-up slot (the latest that fell due while down, so
    // the log jumps over the others), then every second again.
    let gap = (after[0] - last_before).num_seconds();
    assert!(
        gap >= 2,
        "no slot was caught up past the outage: {before:?} {after:?}"
    );
    for pair in after.windows(2) {
        assert_eq!((pair[1] - pair[0]).num_seconds(), 1, "{after:?}");
    }
}

#[tokio::test]
async fn with_catch_up_off_a_slot_missed_while_down_does_not_fire() {
    let mut gw = Gateway::builder()
        .config_toml("[schedules]\ncatch_up = false\n")
        .start()
        .await
        .unwrap();
    let (before, after) = across_a_restart(&mut gw).await;
    let last_before = *before.last().unwrap();
    // The first fire after the restart is the first slot after the process came back: with the
    // same outage as above, the gap is at least as wide, and the skipped slots are counted.
    let gap = (after[0] - last_before).num_seconds();
    assert!(gap >= 3, "{before:?} {after:?}");
    let skipped = gw
        .counter(
            "wasmgate_schedule_fires_total",
            &[("function", "ticker"), ("outcome", "skipped")],
        )
        .await
        .unwrap();
    assert_eq!(skipped, 1.0);
}

#[tokio::test]
async fn three_clustered_nodes_fire_each_slot_once_between_them() {
    let cluster = ClusterHarness::start(3).await.unwrap();
    let [a, b, c] = &cluster.nodes[..] else {
        unreachable!()
    };
    deploy(a, "ticker", EVERY_SECOND).await;
    // Every node runs the schedule, so every node tries to claim every slot.
    for node in [b, c] {
        eventually(
            "the deploy reached every node",
            crate::DEADLINE,
            || async { node.function("ticker").await.unwrap()["name"].clone() },
            |name| name == "ticker",
        )
        .await
        .unwrap();
    }
    let slots = fired_at_least(a, "ticker", 5).await;
    assert_each_slot_fired_once(a, "ticker", &slots).await;
    let mut delivered = 0.0;
    for node in [a, b, c] {
        delivered += node
            .counter(
                "wasmgate_schedule_fires_total",
                &[("function", "ticker"), ("outcome", "delivered")],
            )
            .await
            .unwrap();
    }
    // Fires logged by then, and any that came after the read, but never one slot twice.
    let logged = fired(a, "ticker").await.len() as f64;
    assert!(delivered <= logged, "{delivered} fires, {logged} slots");
}

#[tokio::test]
async fn replacing_a_function_without_its_schedule_stops_the_fires() {
    let gw = Gateway::builder().start().await.unwrap();
    deploy(&gw, "ticker", EVERY_SECOND).await;
    fired_at_least(&gw, "ticker", 2).await;
    deploy(&gw, "ticker", "[keyvalue]\nshared = [\"events\"]\n").await;
    // A fire already under way when the schedule stopped may still land: let it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = fired(&gw, "ticker").await.len();
    // Two slots pass (a short wall-clock wait: the absence of a fire has no event to wait on).
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(fired(&gw, "ticker").await.len(), stopped);
}

#[tokio::test]
async fn an_http_schedule_posts_its_path_every_second() {
    let gw = Gateway::builder().start().await.unwrap();
    // `caps_kv` increments `/{bucket}/{key}` on a POST and answers the new value.
    let manifest = "[[schedules]]\ncron = \"* * * * * *\"\npath = \"/ticks/count\"\n";
    let response = gw
        .deploy_granted("poster", guests::CAPS_KV, &[Capability::Keyvalue], manifest)
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    eventually(
        "two fires delivered",
        crate::DEADLINE,
        || async {
            gw.counter(
                "wasmgate_schedule_fires_total",
                &[("function", "poster"), ("outcome", "delivered")],
            )
            .await
            .unwrap()
        },
        |delivered| *delivered >= 2.0,
    )
    .await
    .unwrap();
    // Our own POST counts one more than the fires before it.
    let response = gw
        .client()
        .post(gw.url("/fn/poster/ticks/count"))
        .send()
        .await
        .unwrap();
    let count: u64 = response.text().await.unwrap().parse().unwrap();
    assert!(count >= 3, "{count}");
}

#[tokio::test]
async fn a_bad_schedule_is_refused_naming_its_index_and_nothing_changes() {
    let gw = Gateway::builder().start().await.unwrap();
    let good = "[[schedules]]\ncron = \"0 0 * * *\"\ntimezone = \"Europe/Paris\"\nmessage = true\n";
    deploy(&gw, "nightly", good).await;
    let digest = gw.function("nightly").await.unwrap()["digest"].clone();
    for bad in [
        "cron = \"61 * * * *\"\nmessage = true\n",
        "cron = \"0 0 * * *\"\ntimezone = \"Mars/Olympus\"\nmessage = true\n",
        "cron = \"0 0 * * *\"\nmessage = true\npath = \"/tick\"\n",
        "cron = \"0 0 * * *\"\n",
    ] {
        let manifest = format!("{good}[[schedules]]\n{bad}");
        let response = gw
            .deploy_granted("nightly", guests::HTTP_ECHO, CAPS, &manifest)
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(
            (status, body["error"]["code"].as_str().unwrap()),
            (400, "invalid_schedule"),
            "{body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("schedules[1]"), "{message}");
        assert_eq!(gw.function("nightly").await.unwrap()["digest"], digest);
    }
    // Schedules widen reach: an unsigned manifest may not add them.
    let unsigned = gw.sign(guests::CAPS_EVENTS, "other", CAPS).unwrap();
    let response = gw.deploy_parts("other", unsigned, good).await.unwrap();
    assert_eq!(
        error_code(response).await,
        (403, "manifest_unsigned".into())
    );
}
