//! The cluster's shared state against a real `nats-server` (Debian's 2.9, JetStream on).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use futures::StreamExt;
use std::time::{Duration, Instant};
use wasmgate_cluster::{
    Change, Cluster, ClusterOptions, Error, Members, NodeEntry, NodeState, Versioned,
};
use wasmgate_tests::NatsServer;

const CALLS: wasmgate_cluster::CallOptions = wasmgate_cluster::CallOptions {
    max_queued: 2,
    retention: Duration::from_secs(60),
    ack_wait: Duration::from_secs(1),
};

async fn connect(nats: &NatsServer) -> Cluster {
    Cluster::connect(ClusterOptions {
        url: nats.url(),
        replicas: 1,
        heartbeat: Duration::from_millis(200),
        missed_heartbeats: 3,
        calls: CALLS,
        credentials: None,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn registry_writes_are_compare_and_swap_and_every_change_is_followed_in_order() {
    let nats = NatsServer::start_jetstream().await.unwrap();
    let (a, b) = (connect(&nats).await, connect(&nats).await);
    assert_eq!(a.record("f").await.unwrap(), None);
    let first = a.put_record("f", "v1".into(), None).await.unwrap();
    // b read "absent" too: its create loses.
    assert!(matches!(
        b.put_record("f", "other".into(), None).await,
        Err(Error::Conflict { .. })
    ));
    let changes = b.changes().await.unwrap();
    assert_eq!(
        changes.snapshot,
        [(
            "f".to_owned(),
            Versioned {
                value: "v1".into(),
                revision: first
            }
        )]
    );
    let second = b.put_record("f", "v2".into(), Some(first)).await.unwrap();
    assert!(matches!(
        a.put_record("f", "v3".into(), Some(first)).await,
        Err(Error::Conflict { .. })
    ));
    a.delete_record("f").await.unwrap();
    let mut live = changes.live;
    let wait = Duration::from_secs(5);
    match tokio::time::timeout(wait, live.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Change::Put { name, record } => {
            assert_eq!((name.as_str(), record.revision), ("f", second));
            assert_eq!(record.value, "v2");
        }
        other => panic!("{other:?}"),
    }
    match tokio::time::timeout(wait, live.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
    {
        Change::Delete { name, revision } => assert!(name == "f" && revision > second),
        other => panic!("{other:?}"),
    }
    assert_eq!(a.record("f").await.unwrap(), None);
    // After a delete the name can be created again.
    a.put_record("f", "v4".into(), None).await.unwrap();
}

#[tokio::test]
async fn originals_are_content_addressed_and_bounded_on_read() {
    let nats = NatsServer::start_jetstream().await.unwrap();
    let cluster = connect(&nats).await;
    let bytes = vec![7u8; 300 * 1024];
    cluster.put_original("sha256:abc", &bytes).await.unwrap();
    // Idempotent: the same name again stores nothing new and fails nothing.
    cluster.put_original("sha256:abc", &bytes).await.unwrap();
    assert_eq!(
        cluster.original("sha256:abc", 1 << 20).await.unwrap(),
        Some(bytes.clone())
    );
    assert_eq!(
        cluster.original("sha256:none", 1 << 20).await.unwrap(),
        None
    );
    assert!(matches!(
        cluster.original("sha256:abc", 1024).await,
        Err(Error::TooLarge { .. })
    ));
}

#[tokio::test]
async fn artifacts_keep_their_metadata_are_named_by_engine_and_original_and_bounded_on_read() {
    let nats = NatsServer::start_jetstream().await.unwrap();
    let cluster = connect(&nats).await;
    let name = wasmgate_cluster::artifact_name("f00d", "sha256:abc");
    assert_eq!(name, "cwasm/f00d/sha256:abc");
    let bytes = vec![9u8; 200 * 1024];
    let metadata: std::collections::HashMap<String, String> =
        [("wasmgate-node-sig".to_owned(), "sig".to_owned())].into();
    cluster
        .put_artifact(&name, &bytes, metadata.clone())
        .await
        .unwrap();
    // Idempotent: the same bytes and metadata again store nothing new.
    cluster
        .put_artifact(&name, &bytes, metadata.clone())
        .await
        .unwrap();
    let read = cluster.artifact(&name, 1 << 20).await.unwrap().unwrap();
    assert_eq!(read.bytes, bytes);
    assert_eq!(read.metadata, metadata);
    // Another signer's object of the same size is replaced, not kept.
    let other: std::collections::HashMap<String, String> =
        [("wasmgate-node-sig".to_owned(), "other".to_owned())].into();
    cluster
        .put_artifact(&name, &bytes, other.clone())
        .await
        .unwrap();
    let read = cluster.artifact(&name, 1 << 20).await.unwrap().unwrap();
    assert_eq!(read.metadata, other);
    let other_engine = wasmgate_cluster::artifact_name("beef", "sha256:abc");
    assert_eq!(
        cluster.artifact(&other_engine, 1 << 20).await.unwrap(),
        None
    );
    assert!(matches!(
        cluster.artifact(&name, 1024).await,
        Err(Error::TooLarge { .. })
    ));
}

#[tokio::test]
async fn members_are_seen_through_the_bucket_and_a_leave_removes_them() {
    let nats = NatsServer::start_jetstream().await.unwrap();
    let cluster = std::sync::Arc::new(connect(&nats).await);
    let members = Members::default();
    let follower = tokio::spawn(members.clone().follow(cluster.clone()));
    let entry = NodeEntry {
        id: "wasmgate-0".into(),
        advertise: "http://127.0.0.1:1".into(),
        state: NodeState::Ready,
        load: 2.0,
        memory_demand: 3 << 20,
        memory_budget: 1 << 30,
        version: "test".into(),
    };
    cluster.heartbeat(&entry).await.unwrap();
    let horizon = cluster.options().horizon();
    let seen = |want: usize| {
        let members = members.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if members.live(Instant::now(), horizon).len() == want {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            false
        }
    };
    assert!(seen(1).await);
    assert_eq!(members.live(Instant::now(), horizon)[0], entry);
    cluster.leave("wasmgate-0").await.unwrap();
    assert!(seen(0).await, "a leave removes the member at once");
    follower.abort();
}

#[tokio::test]
async fn an_unreachable_server_is_an_unavailable_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cluster = Cluster::connect(ClusterOptions {
        url: format!("nats://127.0.0.1:{port}"),
        replicas: 1,
        heartbeat: Duration::from_secs(1),
        missed_heartbeats: 3,
        calls: CALLS,
        credentials: None,
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(15), cluster.record("f"))
        .await
        .unwrap();
    assert!(
        matches!(result, Err(Error::Unavailable { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn async_calls_are_queued_bounded_per_function_redelivered_until_acknowledged() {
    let nats = NatsServer::start_jetstream().await.unwrap();
    let (a, b) = (connect(&nats).await, connect(&nats).await);
    a.enqueue_call("f", "c1", "one".into()).await.unwrap();
    a.enqueue_call("f", "c2", "two".into()).await.unwrap();
    // The same id again is a duplicate JetStream drops, not a third call.
    a.enqueue_call("f", "c2", "two".into()).await.unwrap();
    assert!(matches!(
        a.enqueue_call("f", "c3", "three".into()).await,
        Err(Error::QueueFull { limit: 2, .. })
    ));
    a.enqueue_call("g", "c4", "other function".into())
        .await
        .unwrap();

    let first = a.next_calls(10, Duration::from_secs(1)).await.unwrap();
    let payloads: Vec<&[u8]> = first.iter().map(|d| &d.payload[..]).collect();
    assert_eq!(payloads, [&b"one"[..], b"two", b"other function"]);
    assert!(first.iter().all(|d| d.delivered == 1));
    // Only "one" is acknowledged: the node holding the others "dies" (drops them).
    first[0].ack().await.unwrap();
    drop(first);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let again = b.next_calls(2, Duration::from_secs(2)).await.unwrap();
    let payloads: Vec<&[u8]> = again.iter().map(|d| &d.payload[..]).collect();
    assert_eq!(
        payloads,
        [&b"two"[..], b"other function"],
        "redelivered after ack_wait"
    );
    assert!(again.iter().all(|d| d.delivered >= 2));
    for d in &again {
        d.ack().await.unwrap();
    }
    // Acknowledged calls leave the queue: a place is free again.
    a.enqueue_call("f", "c5", "five".into()).await.unwrap();

    assert_eq!(a.call_state("c1").await.unwrap(), None);
    a.create_call_state("c1", "queued".into()).await.unwrap();
    b.put_call_state("c1", "done".into()).await.unwrap();
    a.create_call_state("c1", "queued".into()).await.unwrap();
    assert_eq!(
        b.call_state("c1").await.unwrap().as_deref(),
        Some(&b"done"[..]),
        "a late first state never overwrites a result"
    );
}
