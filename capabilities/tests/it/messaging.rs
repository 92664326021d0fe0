//! One suite for every [`Bus`] backend, plus the embedded bus's durability.

use crate::nats_server::NatsServer;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmgate_capabilities::messaging::{
    BacklogLimits, Bus, Delivery, EmbeddedBus, Message, NatsBus, Subscription,
};

/// Generous bound for a message that should arrive; only a failing test waits this long.
const ARRIVAL: Duration = Duration::from_secs(10);

/// A bus under test and whatever must live as long as it (a temp dir, a server).
struct Fixture {
    bus: Arc<dyn Bus>,
    _keep: Box<dyn std::any::Any>,
}

async fn embedded() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path()).unwrap();
    Fixture {
        bus: Arc::new(bus),
        _keep: Box::new(dir),
    }
}

async fn nats() -> Fixture {
    let server = NatsServer::start();
    let bus = NatsBus::connect(&server.url()).await.unwrap();
    Fixture {
        bus: Arc::new(bus),
        _keep: Box::new(server),
    }
}

/// The suite, once per backend: `bus_tests!(backend => test, …)`.
macro_rules! bus_tests {
    ($backend:ident => $($test:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = super::$backend().await;
                    super::$test(&*fixture.bus).await;
                }
            )*
        }
    };
}

macro_rules! suite {
    ($($backend:ident),*) => {
        $(
            bus_tests!($backend =>
                exact_subjects_are_delivered,
                star_matches_one_token_and_greater_than_the_rest,
                non_matching_subjects_are_not_delivered,
                a_queue_group_delivers_each_message_to_exactly_one_member,
                plain_subscribers_and_a_queue_group_each_get_their_share,
                request_reply_round_trips_through_a_responder,
                a_request_nobody_answers_times_out,
                a_request_on_a_subject_nobody_subscribes_to_has_no_responders,
                content_type_and_metadata_are_preserved,
                invalid_subjects_and_patterns_are_refused,
            );
        )*
    };
}

suite!(embedded, nats);

async fn next(sub: &mut Subscription) -> Delivery {
    tokio::time::timeout(ARRIVAL, sub.next())
        .await
        .expect("a message should have arrived")
        .expect("the subscription closed")
}

async fn next_acked(sub: &mut Subscription) -> Message {
    let delivery = next(sub).await;
    let message = delivery.message().clone();
    delivery.ack().await.unwrap();
    message
}

async fn sub(bus: &dyn Bus, pattern: &str) -> Subscription {
    bus.subscribe(pattern.to_owned(), None).await.unwrap()
}

async fn publish(bus: &dyn Bus, subject: &str, data: &str) {
    bus.publish(Message::new(subject, data.to_owned()))
        .await
        .unwrap();
}

async fn exact_subjects_are_delivered(bus: &dyn Bus) {
    let mut s = sub(bus, "orders.created").await;
    publish(bus, "orders.created", "one").await;
    let got = next_acked(&mut s).await;
    assert_eq!(got.subject, "orders.created");
    assert_eq!(got.data, "one");
}

async fn star_matches_one_token_and_greater_than_the_rest(bus: &dyn Bus) {
    let mut star = sub(bus, "orders.*.created").await;
    let mut rest = sub(bus, "orders.>").await;
    publish(bus, "orders.eu.created", "a").await;
    publish(bus, "orders.eu.deleted", "b").await;
    publish(bus, "orders.us.created", "c").await;
    publish(bus, "orders.eu.created.v2", "d").await;
    // Ordering on one publisher is kept, so skipped messages would show up in place.
    assert_eq!(next_acked(&mut star).await.data, "a");
    assert_eq!(next_acked(&mut star).await.data, "c");
    for want in ["a", "b", "c", "d"] {
        assert_eq!(next_acked(&mut rest).await.data, want);
    }
}

async fn non_matching_subjects_are_not_delivered(bus: &dyn Bus) {
    let mut s = sub(bus, "orders.*").await;
    for subject in ["orders", "orders.eu.created", "payments.eu", "ordersx.eu"] {
        publish(bus, subject, "wrong").await;
    }
    publish(bus, "orders.eu", "right").await;
    let got = next_acked(&mut s).await;
    assert_eq!(
        (got.subject.as_str(), &got.data[..]),
        ("orders.eu", &b"right"[..])
    );
}

async fn a_queue_group_delivers_each_message_to_exactly_one_member(bus: &dyn Bus) {
    let mut a = bus
        .subscribe("jobs.*".into(), Some("workers".into()))
        .await
        .unwrap();
    let mut b = bus
        .subscribe("jobs.*".into(), Some("workers".into()))
        .await
        .unwrap();
    for i in 0..100 {
        publish(bus, "jobs.run", &i.to_string()).await;
    }
    let (seen, counts) = drain_group(&mut a, &mut b, 100).await;
    assert_eq!(seen.len(), 100, "every message once, no duplicates");
    assert_eq!(counts.0 + counts.1, 100);
    assert!(
        counts.0 > 0 && counts.1 > 0,
        "both members got work: {counts:?}"
    );
}

/// Receives `total` deliveries across two group members; the distinct payloads and per-member counts.
async fn drain_group(
    a: &mut Subscription,
    b: &mut Subscription,
    total: usize,
) -> (HashSet<bytes::Bytes>, (usize, usize)) {
    let deadline = Instant::now() + ARRIVAL;
    let mut seen = HashSet::new();
    let mut counts = (0, 0);
    while counts.0 + counts.1 < total {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let (delivery, from_a) = tokio::time::timeout(remaining, async {
            tokio::select! {
                Some(d) = a.next() => (d, true),
                Some(d) = b.next() => (d, false),
            }
        })
        .await
        .expect("the group should have received every message");
        if from_a {
            counts.0 += 1;
        } else {
            counts.1 += 1;
        }
        seen.insert(delivery.message().data.clone());
        delivery.ack().await.unwrap();
    }
    (seen, counts)
}

async fn plain_subscribers_and_a_queue_group_each_get_their_share(bus: &dyn Bus) {
    let mut plain1 = sub(bus, "events.>").await;
    let mut plain2 = sub(bus, "events.*").await;
    let mut a = bus
        .subscribe("events.>".into(), Some("g".into()))
        .await
        .unwrap();
    let mut b = bus
        .subscribe("events.>".into(), Some("g".into()))
        .await
        .unwrap();
    for i in 0..20 {
        publish(bus, "events.tick", &i.to_string()).await;
    }
    for i in 0..20 {
        assert_eq!(next_acked(&mut plain1).await.data, i.to_string());
        assert_eq!(next_acked(&mut plain2).await.data, i.to_string());
    }
    let (seen, _) = drain_group(&mut a, &mut b, 20).await;
    assert_eq!(seen.len(), 20);
}

/// Answers the next request on `requests` with its data prefixed by `re:`.
async fn answer_one(bus: &dyn Bus, requests: &mut Subscription) {
    let request = next_acked(requests).await;
    let reply_to = request.reply_to.expect("a request carries a reply subject");
    let mut answer = b"re:".to_vec();
    answer.extend_from_slice(&request.data);
    publish(bus, &reply_to, std::str::from_utf8(&answer).unwrap()).await;
}

async fn request_reply_round_trips_through_a_responder(bus: &dyn Bus) {
    let mut requests = sub(bus, "svc.echo").await;
    let (reply, ()) = tokio::join!(
        bus.request(Message::new("svc.echo", "ping"), ARRIVAL),
        answer_one(bus, &mut requests),
    );
    assert_eq!(reply.unwrap().data, "re:ping");
}

async fn a_request_nobody_answers_times_out(bus: &dyn Bus) {
    let _silent = sub(bus, "svc.silent").await;
    let err = bus
        .request(
            Message::new("svc.silent", "ping"),
            Duration::from_millis(200),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "timeout");
}

async fn a_request_on_a_subject_nobody_subscribes_to_has_no_responders(bus: &dyn Bus) {
    let err = bus
        .request(Message::new("svc.nobody", "ping"), ARRIVAL)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no_responders");
}

async fn content_type_and_metadata_are_preserved(bus: &dyn Bus) {
    let mut s = sub(bus, "ce.>").await;
    // An event, in canonical form: it reaches a subscriber exactly as sent on every bus (over
    // NATS it travels as a structured CloudEvent and is read back into the same message).
    let event = wasmgate_capabilities::messaging::cloudevent::canonical(
        Message::new("ce.order", vec![0u8, 159, 146, 150])
            .with_content_type("application/octet-stream")
            .with_metadata("ce-specversion", "1.0")
            .with_metadata("ce-id", "42")
            .with_metadata("ce-source", "/orders")
            .with_metadata("ce-type", "order.created")
            .with_metadata("ce-time", "2026-11-30T10:00:00.250Z")
            .with_metadata("ce-tenant", "acme")
            .with_metadata("trace", "t-1"),
    )
    .unwrap();
    bus.publish(event.clone()).await.unwrap();
    assert_eq!(next_acked(&mut s).await, event);
    // A plain message: data, content type and metadata as they were, no CloudEvents attribute
    // added.
    let plain = Message::new("ce.plain", "hello")
        .with_content_type("text/plain")
        .with_metadata("a-key", "1")
        .with_metadata("b-key", "2");
    bus.publish(plain.clone()).await.unwrap();
    assert_eq!(next_acked(&mut s).await, plain);
}

async fn invalid_subjects_and_patterns_are_refused(bus: &dyn Bus) {
    for subject in ["", "a..b", "a.*", "a.>", "a b"] {
        let err = bus.publish(Message::new(subject, "x")).await.unwrap_err();
        assert_eq!(err.code(), "invalid_subject", "{subject:?}");
    }
    for pattern in ["", "a.>.b", "a..b"] {
        let err = bus.subscribe(pattern.into(), None).await.unwrap_err();
        assert_eq!(err.code(), "invalid_pattern", "{pattern:?}");
    }
    let err = bus
        .subscribe("a".into(), Some("".into()))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "invalid_queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unacknowledged_message_is_delivered_again_after_reopening_and_not_after_ack() {
    let dir = tempfile::tempdir().unwrap();
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap();
        let mut s = sub(&bus, "orders.>").await;
        publish(&bus, "orders.eu", "keep me").await;
        let unacked = next(&mut s).await;
        assert_eq!(unacked.message().data, "keep me");
    }
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap();
        let mut s = sub(&bus, "orders.*").await;
        let again = next(&mut s).await;
        assert_eq!(again.message().subject, "orders.eu");
        assert_eq!(again.message().data, "keep me");
        again.ack().await.unwrap();
    }
    let bus = EmbeddedBus::open(dir.path()).unwrap();
    let mut s = sub(&bus, "orders.*").await;
    publish(&bus, "orders.us", "fresh").await;
    assert_eq!(
        next_acked(&mut s).await.data,
        "fresh",
        "the acked message is gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_stays_logged_until_every_subscriber_acknowledges_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap();
        let mut first = sub(&bus, "a.b").await;
        let mut second = sub(&bus, "a.*").await;
        publish(&bus, "a.b", "twice").await;
        next_acked(&mut first).await;
        let _unacked = next(&mut second).await;
    }
    let bus = EmbeddedBus::open(dir.path()).unwrap();
    let mut s = sub(&bus, ">").await;
    assert_eq!(next_acked(&mut s).await.data, "twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovered_messages_wait_for_a_matching_subscription() {
    let dir = tempfile::tempdir().unwrap();
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap();
        let mut s = sub(&bus, "x.>").await;
        publish(&bus, "x.1", "one").await;
        publish(&bus, "x.2", "two").await;
        let _ = (next(&mut s).await, next(&mut s).await);
    }
    let bus = EmbeddedBus::open(dir.path()).unwrap();
    let mut unrelated = sub(&bus, "y.>").await;
    let mut only_two = sub(&bus, "x.2").await;
    let mut rest = sub(&bus, "x.*").await;
    assert_eq!(next_acked(&mut only_two).await.data, "two");
    assert_eq!(next_acked(&mut rest).await.data, "one");
    publish(&bus, "y.z", "live").await;
    assert_eq!(next_acked(&mut unrelated).await.data, "live");
}

/// Whether a delivery is waiting on `s` right now.
async fn nothing_waiting(s: &mut Subscription) -> bool {
    tokio::time::timeout(Duration::from_millis(100), s.next())
        .await
        .is_err()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_backlog_refuses_the_publish_and_accepts_again_once_a_delivery_is_handled() {
    let dir = tempfile::tempdir().unwrap();
    let limits = BacklogLimits {
        messages: 2,
        bytes: 10,
    };
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap().with_backlog(limits);
        let mut s = sub(&bus, "q").await;
        let mut group_a = bus.subscribe("g".into(), Some("w".into())).await.unwrap();
        let mut group_b = bus.subscribe("g".into(), Some("w".into())).await.unwrap();
        publish(&bus, "q", "1").await;
        publish(&bus, "q", "2").await;
        let err = bus.publish(Message::new("q", "3")).await.unwrap_err();
        assert_eq!(err.code(), "backlog_full");
        assert!(
            err.to_string().contains("quotas.max_backlog_messages"),
            "{err}"
        );
        let err = bus
            .publish(Message::new("q", vec![0u8; 11]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "message_too_large");
        // Handling one (acked or merely dropped) makes room.
        let first = next(&mut s).await;
        assert_eq!(first.message().data, "1");
        drop(first);
        publish(&bus, "q", "3").await;
        assert_eq!(next_acked(&mut s).await.data, "2");
        assert_eq!(next_acked(&mut s).await.data, "3");
        // A queue group skips a member without room, and refuses only when every one is full.
        for i in 0..4 {
            publish(&bus, "g", &i.to_string()).await;
        }
        assert_eq!(
            bus.publish(Message::new("g", "x"))
                .await
                .unwrap_err()
                .code(),
            "backlog_full"
        );
        let mut got = Vec::new();
        for member in [&mut group_a, &mut group_b] {
            for _ in 0..2 {
                got.push(String::from_utf8(next_acked(member).await.data.to_vec()).unwrap());
            }
        }
        got.sort();
        assert_eq!(got, ["0", "1", "2", "3"]);
    }
    // The refused publishes left nothing in the log: only "1" (dropped unacked) comes back.
    let bus = EmbeddedBus::open(dir.path()).unwrap();
    let mut s = sub(&bus, "q").await;
    assert_eq!(next_acked(&mut s).await.data, "1");
    assert!(nothing_waiting(&mut s).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reopened_log_is_replayed_as_the_backlog_makes_room_in_order_ahead_of_new_messages() {
    let dir = tempfile::tempdir().unwrap();
    {
        let bus = EmbeddedBus::open(dir.path()).unwrap();
        let mut s = sub(&bus, "r.>").await;
        for i in 0..10 {
            publish(&bus, &format!("r.{i}"), &i.to_string()).await;
        }
        for _ in 0..10 {
            drop(next(&mut s).await.into_message());
        }
    }
    let limits = BacklogLimits {
        messages: 3,
        bytes: 1 << 20,
    };
    let bus = EmbeddedBus::open(dir.path()).unwrap().with_backlog(limits);
    let mut s = sub(&bus, "r.>").await;
    // Ten owed, three at a time: the owed ones fill the backlog, so a new publish is refused.
    assert_eq!(
        bus.publish(Message::new("r.new", "new"))
            .await
            .unwrap_err()
            .code(),
        "backlog_full"
    );
    let held: Vec<Delivery> = vec![next(&mut s).await, next(&mut s).await, next(&mut s).await];
    assert!(
        nothing_waiting(&mut s).await,
        "no more than the backlog is read back"
    );
    let data: Vec<_> = held.iter().map(|d| d.message().data.clone()).collect();
    assert_eq!(data, ["0", "1", "2"]);
    for delivery in held {
        delivery.ack().await.unwrap();
    }
    let mut rest = Vec::new();
    for _ in 3..10 {
        rest.push(next_acked(&mut s).await.data);
        if rest.len() == 6 {
            // Room now: a new message is accepted, and comes after every owed one.
            publish(&bus, "r.new", "new").await;
        }
    }
    assert_eq!(rest, ["3", "4", "5", "6", "7", "8", "9"]);
    assert_eq!(next_acked(&mut s).await.data, "new");
}

/// Publish→receive latency, one message in flight: `cargo test -- --ignored --nocapture latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark, not a check"]
async fn latency() {
    for fixture in [embedded().await, nats().await] {
        let bus = &*fixture.bus;
        let mut s = sub(bus, "bench.latency").await;
        let mut samples = Vec::new();
        for i in 0..2000 {
            let start = Instant::now();
            bus.publish(Message::new("bench.latency", vec![0u8; 128]))
                .await
                .unwrap();
            next(&mut s).await.ack().await.unwrap();
            if i >= 200 {
                samples.push(start.elapsed());
            }
        }
        samples.sort();
        let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q) as usize];
        println!(
            "{}: publish→receive(+ack) over {} messages: p50 {:?}, p99 {:?}",
            bus.name(),
            samples.len(),
            at(0.50),
            at(0.99)
        );
    }
}
