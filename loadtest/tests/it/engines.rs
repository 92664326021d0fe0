use crate::server::Server;
use std::time::Duration;
use wasmgate_loadtest::{
    Arrival, Caller, Client, ClosedLoop, Flood, FloodCounts, Outcome, Popularity, Recorder,
    Schedule, Target, closed_loop, flood, open_loop,
};

/// A caller whose function 0 is `/ok` (200) and function 1 is `/fail` (503).
fn caller(server: &Server) -> Caller {
    let target = Target::parse(&format!("{}/{{name}}", server.base)).unwrap();
    let uris = target.uris(&["ok".to_owned(), "fail".to_owned()]).unwrap();
    Caller::new(Client::new(Duration::from_secs(10)), uris).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_closed_loop_counts_every_answer_and_503s_as_errors() {
    let server = Server::start().await;
    let caller = caller(&server);
    let recorder = Recorder::new().unwrap();
    let shape = ClosedLoop {
        connections: 4,
        duration: Duration::from_millis(300),
        // Exponent 0: both functions equally likely.
        popularity: Popularity::zipf(2, 0.0).unwrap(),
        seed: 1,
    };
    closed_loop::run(shape, move |f| caller.call(f), &recorder)
        .await
        .unwrap();
    let stats = recorder.snapshot();
    assert!(stats.requests() > 0);
    assert_eq!(
        stats.requests(),
        server.served(),
        "every request served is counted"
    );
    assert_eq!(stats.ok(), stats.hits()[0], "/ok answers 200");
    assert_eq!(
        stats
            .errors_by_outcome()
            .get(&Outcome::Status(503))
            .copied(),
        Some(stats.hits()[1]),
        "/fail answers 503, counted as errors"
    );
    assert_eq!(stats.errors(), stats.hits()[1]);
    assert_eq!(stats.dropped(), 0);
    assert!(stats.throughput() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_loop_sends_exactly_the_scheduled_requests() {
    let server = Server::start().await;
    let caller = caller(&server);
    let recorder = Recorder::new().unwrap();
    // 200/s for 300 ms: 60 arrivals, alternating /ok and /fail.
    let arrivals: Vec<Arrival> = Schedule::Constant { rate: 200.0 }
        .offsets_within(Duration::from_millis(300))
        .enumerate()
        .map(|(n, at)| Arrival {
            at,
            function: n % 2,
        })
        .collect();
    assert_eq!(arrivals.len(), 60);
    open_loop::run(arrivals, 10_000, move |f| caller.call(f), &recorder)
        .await
        .unwrap();
    let stats = recorder.snapshot();
    assert_eq!(stats.requests(), 60);
    assert_eq!(server.served(), 60);
    assert_eq!(stats.ok(), 30);
    assert_eq!(stats.errors_by_outcome()[&Outcome::Status(503)], 30);
    assert_eq!(stats.dropped(), 0);
    assert!(stats.send_lag_at(99.0).is_some());
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let uri = format!("http://127.0.0.1:{port}/").parse().unwrap();
    let reply = Client::new(Duration::from_secs(5)).get(uri).await;
    assert_eq!(reply.outcome, Outcome::Connect);
    assert!(reply.headers_at.is_none());
}

/// Floods `path` with 4 connections for 200 ms; returns what came back.
async fn flood_path(server: &Server, path: &str) -> FloodCounts {
    let recorder = Recorder::new().unwrap();
    let shape = Flood {
        connections: 4,
        uri: format!("{}{path}", server.base).parse().unwrap(),
        headers: http::HeaderMap::new(),
        timeout: Duration::from_secs(10),
    };
    let running = flood::start(&shape, &recorder).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let missing = running.stop().await.unwrap();
    FloodCounts::of(&recorder.snapshot(), missing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flood_counts_every_refusal_and_those_without_retry_after() {
    let server = Server::start().await;
    let busy = flood_path(&server, "/busy").await;
    assert_eq!(
        server.accepted(),
        4,
        "one connection per flood worker, kept alive"
    );
    assert!(busy.too_many_requests > 0);
    assert_eq!(busy.requests(), busy.too_many_requests, "{busy:?}");
    assert_eq!(busy.missing_retry_after, 0, "/busy sends Retry-After");
    let fail = flood_path(&server, "/fail").await;
    assert!(fail.unavailable > 0);
    assert_eq!(
        fail.missing_retry_after, fail.unavailable,
        "/fail sends none"
    );
    assert_eq!(
        busy.requests() + fail.requests(),
        server.served(),
        "every request served is counted once"
    );
}
