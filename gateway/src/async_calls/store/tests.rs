use super::*;
use crate::async_calls::legacy::LEGACY;
use crate::async_calls::record::ResultHead;
use redb::TableHandle;

fn meta(function: &str) -> CallMeta {
    CallMeta {
        function: function.into(),
        method: "POST".into(),
        path: "/".into(),
        headers: Vec::new(),
        callback_url: None,
        state: CallState::Queued,
        attempts: 0,
        created_at: 1,
        finished_at: None,
        result: None,
        token_hash: Some([1; 32]),
    }
}

fn finished(function: &str, at: u64) -> CallMeta {
    CallMeta {
        state: CallState::Done,
        attempts: 1,
        finished_at: Some(at),
        result: Some(ResultHead {
            status: 200,
            headers: Vec::new(),
        }),
        ..meta(function)
    }
}

fn open() -> (tempfile::TempDir, CallStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = CallStore::open_blocking(&dir.path().join("calls.redb")).unwrap();
    (dir, store)
}

/// Every key of a table, to check the indexes against the calls.
fn ids<K: redb::Key + 'static, V: redb::Value + 'static>(
    store: &CallStore,
    table: TableDefinition<K, V>,
    key: impl Fn(K::SelfType<'_>) -> String,
) -> Vec<String> {
    let txn = store.db.begin_read().unwrap();
    let table = txn.open_table(table).unwrap();
    let mut out: Vec<String> = table
        .iter()
        .unwrap()
        .map(|row| key(row.unwrap().0.value()))
        .collect();
    out.sort();
    out
}

fn all(store: &CallStore, id: &str) -> Option<CallRecord> {
    store.read(id, |_| true).unwrap()
}

#[test]
fn a_call_moves_from_queue_and_body_to_result_and_expiry_index() {
    let (_dir, store) = open();
    store.insert("a", &meta("f"), b"request", 5).unwrap();
    assert_eq!(store.queued().unwrap(), vec![("a".into(), "f".into())]);
    let (pending, body) = store.pending("a").unwrap().unwrap();
    assert_eq!(
        (pending.function.as_str(), &body[..]),
        ("f", &b"request"[..])
    );

    store.finish("a", &finished("f", 100), b"result").unwrap();
    assert!(store.queued().unwrap().is_empty());
    assert!(store.pending("a").unwrap().is_none(), "no longer queued");
    assert!(ids(&store, BODIES, |(k, _)| k.to_owned()).is_empty());
    let call = all(&store, "a").unwrap();
    assert_eq!(call.result_body.as_deref(), Some(&b"result"[..]));
    assert_eq!(
        ids(&store, EXPIRY, |(at, id)| format!("{at}/{id}")),
        ["100/a"]
    );
}

#[test]
fn a_refused_reader_gets_nothing_as_for_a_missing_call() {
    let (_dir, store) = open();
    store.insert("a", &meta("f"), b"", 1).unwrap();
    assert!(store.read("a", |_| false).unwrap().is_none());
    assert!(store.read("missing", |_| true).unwrap().is_none());
    assert!(all(&store, "a").is_some());
}

#[test]
fn queued_calls_resume_in_the_order_they_were_accepted() {
    let (_dir, store) = open();
    store.insert("z", &meta("f"), b"", 1).unwrap();
    store.insert("a", &meta("g"), b"", 3).unwrap();
    store.insert("m", &meta("f"), b"", 2).unwrap();
    let order: Vec<String> = store
        .queued()
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order, ["z", "m", "a"]);
}

#[test]
fn expiry_removes_only_calls_finished_before_the_cutoff_and_keeps_the_index_consistent() {
    let (_dir, store) = open();
    for (id, at) in [("t10", 10), ("t20", 20), ("t25", 25), ("t30", 30)] {
        store.insert(id, &meta("f"), b"body", 1).unwrap();
        store.finish(id, &finished("f", at), b"result").unwrap();
    }
    store.insert("queued", &meta("f"), b"body", 2).unwrap();

    // Batches of one: the sweep goes on until a batch comes back short.
    assert_eq!(store.expire_batch(25, 1).unwrap(), 1);
    assert!(all(&store, "t10").is_none());
    assert!(all(&store, "t20").is_some());
    assert_eq!(
        store.expire(25).unwrap(),
        1,
        "t25 finished at the cutoff: kept"
    );
    assert_eq!(store.expire(25).unwrap(), 0);

    assert_eq!(
        ids(&store, META, |k| k.to_owned()),
        ["queued", "t25", "t30"]
    );
    assert_eq!(ids(&store, RESULTS, |(k, _)| k.to_owned()), ["t25", "t30"]);
    assert_eq!(
        ids(&store, EXPIRY, |(at, id)| format!("{at}/{id}")),
        ["25/t25", "30/t30"]
    );
    assert_eq!(ids(&store, BODIES, |(k, _)| k.to_owned()), ["queued"]);
    assert_eq!(store.queued().unwrap().len(), 1);
}

#[test]
fn calls_stored_by_an_older_gateway_are_converted_and_the_old_table_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("calls.redb");
    {
        let db = Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut old = txn.open_table(LEGACY).unwrap();
            let queued = serde_json::json!({
                "id": "q1", "function": "f", "method": "POST", "path": "/x",
                "headers": [["authorization", "Bearer old-secret"], ["x-a", "1"]],
                "body": [104, 105], "callback_url": null, "state": "queued",
                "attempts": 0, "result": null, "created_at": 7, "finished_at": null
            });
            let done = serde_json::json!({
                "id": "d1", "function": "f", "method": "POST", "path": "/",
                "headers": [], "body": [], "callback_url": null, "state": "done",
                "attempts": 1, "result": {"status": 200, "headers": [], "body": "ok"},
                "created_at": 7, "finished_at": 8
            });
            for (id, record) in [("q1", queued), ("d1", done)] {
                old.insert(id, serde_json::to_vec(&record).unwrap().as_slice())
                    .unwrap();
            }
            old.insert("bad", &b"not json"[..]).unwrap();
        }
        txn.commit().unwrap();
    }

    let store = CallStore::open_blocking(&path).unwrap();
    assert_eq!(store.queued().unwrap(), vec![("q1".into(), "f".into())]);
    let (meta, body) = store.pending("q1").unwrap().unwrap();
    assert_eq!(&body[..], b"hi");
    assert_eq!(meta.headers, vec![("x-a".to_owned(), "1".to_owned())]);
    assert_eq!(
        meta.token_hash, None,
        "only the admin reads converted calls"
    );
    let done = all(&store, "d1").unwrap();
    assert_eq!(done.result_body.as_deref(), Some(&b"ok"[..]));
    assert_eq!(
        ids(&store, EXPIRY, |(at, id)| format!("{at}/{id}")),
        ["8/d1"]
    );

    let txn = store.db.begin_read().unwrap();
    assert!(
        txn.list_tables()
            .unwrap()
            .all(|t| t.name() != LEGACY.name()),
        "the old table is gone"
    );
    drop(txn);
    drop(store);
    // A second open finds nothing to convert.
    CallStore::open_blocking(&path).unwrap();
}
