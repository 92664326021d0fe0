//! Graceful shutdown and restart under load: SIGTERM while clients write keys, publish events and
//! wait on slow calls; nothing accepted is lost and nothing executed goes unanswered.

use crate::DEADLINE;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmgate_config::Capability;
use wasmgate_tests::{Gateway, eventually, guests};

/// Client tasks writing keys, each on its own sequence of keys.
const WRITERS: usize = 16;

/// Slow calls in flight when SIGTERM arrives.
const SLOW_CALLS: usize = 20;

/// What the clients saw, by key or topic: `Some(status)` for an answer, `None` for a request
/// that failed without one (refused or reset connection).
#[derive(Default)]
struct Seen {
    writes: BTreeMap<String, Option<u16>>,
    publishes: BTreeMap<String, Option<u16>>,
}

#[tokio::test]
async fn sigterm_under_load_answers_every_executed_request_and_keeps_every_accepted_message() {
    let mut gw = Gateway::builder().start().await.unwrap();
    gw.deploy_granted("kv", guests::CAPS_KV, &[Capability::Keyvalue], "")
        .await
        .unwrap();
    gw.deploy_granted(
        "sink",
        guests::CAPS_EVENTS,
        &[Capability::Keyvalue, Capability::Messaging],
        "[[triggers]]\nsubject = \"load.>\"\n",
    )
    .await
    .unwrap();
    gw.deploy("slow", guests::HTTP_SLOW).await.unwrap();

    let seen = Arc::new(Mutex::new(Seen::default()));
    let mut clients = Vec::new();
    for writer in 0..WRITERS {
        let client = gw.client().clone();
        let kv = gw.url("/fn/kv/load");
        let publish = gw.url("/publish/load");
        let seen = seen.clone();
        clients.push(tokio::spawn(async move {
            for i in 0.. {
                let key = format!("w{writer}-{i}");
                let answer = client
                    .put(format!("{kv}/{key}"))
                    .body(key.clone())
                    .send()
                    .await;
                let status = answer.as_ref().ok().map(|r| r.status().as_u16());
                seen.lock().unwrap().writes.insert(key.clone(), status);
                let topic = format!("load.w{writer}.m{i}");
                let answer = client
                    .post(format!("{publish}.w{writer}.m{i}"))
                    .body(topic.clone())
                    .send()
                    .await;
                let published = answer.as_ref().ok().map(|r| r.status().as_u16());
                seen.lock().unwrap().publishes.insert(topic, published);
                if status.is_none() && published.is_none() {
                    return;
                }
            }
        }));
    }
    // Let the load run, then start slow calls that will be in flight at SIGTERM.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let slow: Vec<_> = (0..SLOW_CALLS)
        .map(|_| tokio::spawn(gw.client().get(gw.url("/fn/slow?ms=1500")).send()))
        .collect();
    eventually(
        "the slow calls are running",
        DEADLINE,
        || async {
            gw.function("slow").await.unwrap()["instances"]
                .as_u64()
                .unwrap_or(0)
        },
        |n| *n as usize == SLOW_CALLS,
    )
    .await
    .unwrap();
    let status = gw.terminate().await.unwrap();
    assert!(status.success(), "{status:?}");
    for client in clients {
        client.await.unwrap();
    }
    for call in slow {
        let response = call
            .await
            .unwrap()
            .expect("an accepted slow call is answered");
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "slept 1500");
    }

    gw.restart().await.unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let (mut answered, mut refused) = (0, 0);
    for (key, status) in &seen.writes {
        let stored = gw
            .client()
            .get(gw.url(&format!("/fn/kv/load/{key}")))
            .send()
            .await
            .unwrap();
        let found = stored.status() == 200;
        match status {
            // Acknowledged: durable.
            Some(200) => {
                assert!(found, "acknowledged write {key} lost");
                answered += 1;
            }
            // Refused while draining: not executed.
            Some(503) => {
                assert!(!found, "write {key} was refused with 503 but executed");
                refused += 1;
            }
            Some(other) => panic!("write {key} answered {other}"),
            // No answer: it must not have been executed either.
            None => assert!(!found, "write {key} was executed but its answer lost"),
        }
    }
    let accepted: Vec<&String> = seen
        .publishes
        .iter()
        .filter(|(_, status)| **status == Some(202))
        .map(|(topic, _)| topic)
        .collect();
    for (topic, status) in &seen.publishes {
        assert!(
            matches!(status, None | Some(202) | Some(503)),
            "publish {topic} answered {status:?}"
        );
    }
    for topic in &accepted {
        crate::wait_until_handled(&gw, "sink", topic).await;
    }
    eprintln!(
        "restart under load: {answered} writes acknowledged, {refused} refused while draining, {} messages accepted",
        accepted.len()
    );
    assert!(answered > WRITERS, "the load barely ran: {answered} writes");
}
