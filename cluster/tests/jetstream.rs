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

async fn connect(nats: &NatsServer) -> Cluster {
    Cluster::connect(ClusterOptions {
        url: nats.url(),
        replicas: 1,
        heartbeat: Duration::from_millis(200),
        missed_heartbeats: 3,
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
