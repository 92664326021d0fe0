//! The key-value suite, written once and run against every backend.

use crate::backends::{Fixture, redb_path};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;
use wasmgate_capabilities::keyvalue::{LIST_PAGE_SIZE, namespace};
use wasmgate_capabilities::{Error, KvBackend, KvScope, ListFrom, RedbBackend};

/// Runs each named suite function against a fresh backend from `$fixture`.
macro_rules! backend_tests {
    ($module:ident: $fixture:expr => $($test:ident),+ $(,)?; ignored: $($slow:ident),* $(,)?) => {
        mod $module {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let fixture = $fixture.await;
                    super::$test(fixture.backend()).await;
                }
            )+
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "benchmark: run with --ignored --nocapture"]
                async fn $slow() {
                    let fixture = $fixture.await;
                    super::$slow(fixture.backend(), stringify!($module)).await;
                }
            )*
        }
    };
}

backend_tests! { redb: Fixture::redb() =>
    get_set_delete_and_exists_round_trip,
    values_are_arbitrary_bytes,
    list_keys_pages_through_a_large_bucket_and_only_that_bucket,
    list_keys_of_an_empty_bucket_is_one_empty_page,
    list_keys_lists_every_untouched_key_once_while_listed_keys_are_deleted,
    batch_operations_read_write_and_delete_many_keys,
    increment_on_a_missing_key_starts_from_zero,
    increment_is_atomic_under_200_concurrent_tasks,
    increment_refuses_values_that_are_not_counters,
    increment_refuses_to_overflow,
    functions_see_only_their_own_buckets_and_granted_shared_ones,
    purge_removes_every_bucket_under_the_prefix_and_nothing_else;
    ignored: latency_of_get_set_and_increment,
}

/// The key-value quota of the quota suites, in bytes.
const QUOTA: u64 = 100;

backend_tests! { redb_quota: Fixture::redb_with_quota(QUOTA) =>
    a_write_past_the_quota_is_refused_and_writes_nothing,
    batches_and_counters_count_against_the_quota_too,
    each_function_and_each_shared_bucket_has_a_quota_of_its_own,
    usage_is_exact_through_overwrites_and_deletes;
    ignored: latency_of_get_set_and_increment,
}

backend_tests! { redis_quota: Fixture::redis_with_quota(QUOTA) =>
    a_write_past_the_quota_is_refused_and_writes_nothing,
    batches_and_counters_count_against_the_quota_too,
    each_function_and_each_shared_bucket_has_a_quota_of_its_own,
    usage_is_exact_through_overwrites_and_deletes;
    ignored: latency_of_get_set_and_increment,
}

backend_tests! { redis: Fixture::redis() =>
    get_set_delete_and_exists_round_trip,
    values_are_arbitrary_bytes,
    list_keys_pages_through_a_large_bucket_and_only_that_bucket,
    list_keys_of_an_empty_bucket_is_one_empty_page,
    list_keys_lists_every_untouched_key_once_while_listed_keys_are_deleted,
    batch_operations_read_write_and_delete_many_keys,
    increment_on_a_missing_key_starts_from_zero,
    increment_is_atomic_under_200_concurrent_tasks,
    increment_refuses_values_that_are_not_counters,
    increment_refuses_to_overflow,
    functions_see_only_their_own_buckets_and_granted_shared_ones,
    purge_removes_every_bucket_under_the_prefix_and_nothing_else;
    ignored: latency_of_get_set_and_increment,
}

async fn get_set_delete_and_exists_round_trip(kv: Arc<dyn KvBackend>) {
    assert_eq!(kv.get("b", "k").await.unwrap(), None);
    assert!(!kv.exists("b", "k").await.unwrap());
    kv.set("b", "k", b"one".to_vec()).await.unwrap();
    assert_eq!(kv.get("b", "k").await.unwrap(), Some(b"one".to_vec()));
    assert!(kv.exists("b", "k").await.unwrap());
    kv.set("b", "k", b"two".to_vec()).await.unwrap();
    assert_eq!(kv.get("b", "k").await.unwrap(), Some(b"two".to_vec()));
    assert_eq!(
        kv.get("other", "k").await.unwrap(),
        None,
        "buckets are apart"
    );
    kv.delete("b", "k").await.unwrap();
    assert_eq!(kv.get("b", "k").await.unwrap(), None);
    assert!(!kv.exists("b", "k").await.unwrap());
    kv.delete("b", "k").await.unwrap();
}

async fn values_are_arbitrary_bytes(kv: Arc<dyn KvBackend>) {
    let binary: Vec<u8> = (0..=255).collect();
    let large = vec![7u8; 1 << 20];
    for (key, value) in [("empty", Vec::new()), ("binary", binary), ("large", large)] {
        kv.set("b", key, value.clone()).await.unwrap();
        assert_eq!(kv.get("b", key).await.unwrap(), Some(value), "{key}");
    }
    assert!(
        kv.exists("b", "empty").await.unwrap(),
        "an empty value still exists"
    );
    kv.set("b", "", b"empty key".to_vec()).await.unwrap();
    assert_eq!(kv.get("b", "").await.unwrap(), Some(b"empty key".to_vec()));
    kv.set("b", "ключ/\u{0}:*", b"x".to_vec()).await.unwrap();
    assert_eq!(
        kv.get("b", "ключ/\u{0}:*").await.unwrap(),
        Some(b"x".to_vec())
    );
}

async fn list_keys_pages_through_a_large_bucket_and_only_that_bucket(kv: Arc<dyn KvBackend>) {
    let expected: BTreeSet<String> = (0..2500).map(|i| format!("key-{i:04}")).collect();
    let entries: Vec<_> = expected
        .iter()
        .map(|k| (k.clone(), b"v".to_vec()))
        .collect();
    kv.set_many("b", entries).await.unwrap();
    // Neighbours in key order of both backends' layouts must not leak into the listing.
    kv.set("a", "x", b"v".to_vec()).await.unwrap();
    kv.set("bb", "x", b"v".to_vec()).await.unwrap();
    kv.set("b/c", "x", b"v".to_vec()).await.unwrap();

    let mut seen = Vec::new();
    let mut pages = 0;
    let mut cursor = None;
    loop {
        let page = kv.list_keys("b", cursor.unwrap_or_default()).await.unwrap();
        pages += 1;
        assert!(
            page.keys.len() <= 2 * LIST_PAGE_SIZE,
            "page of {}",
            page.keys.len()
        );
        seen.extend(page.keys);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
        assert!(pages < 100, "listing does not end");
    }
    assert!(
        pages >= 3,
        "2,500 keys should take several pages, took {pages}"
    );
    assert_eq!(seen.len(), expected.len(), "each key exactly once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), expected);
}

async fn list_keys_of_an_empty_bucket_is_one_empty_page(kv: Arc<dyn KvBackend>) {
    let page = kv.list_keys("nothing-here", ListFrom::Start).await.unwrap();
    assert!(page.keys.is_empty());
    assert_eq!(page.next, None);
}

/// Issue 13's replay: write k00000..k01499, take the first page, delete k00000..k00499 (all
/// listed already), go on. A cursor counting keys skipped k01000..k01499, never touched.
async fn list_keys_lists_every_untouched_key_once_while_listed_keys_are_deleted(
    kv: Arc<dyn KvBackend>,
) {
    let all: Vec<String> = (0..1500).map(|i| format!("k{i:05}")).collect();
    let entries = all.iter().map(|k| (k.clone(), b"v".to_vec())).collect();
    kv.set_many("b", entries).await.unwrap();
    let first = kv.list_keys("b", ListFrom::Start).await.unwrap();
    let mut listed: Vec<String> = first.keys;
    let deleted: Vec<String> = all
        .iter()
        .filter(|k| listed.contains(k))
        .take(500)
        .cloned()
        .collect();
    assert_eq!(deleted.len(), 500, "the first page holds at least 500 keys");
    kv.delete_many("b", &deleted).await.unwrap();
    let mut next = first.next;
    while let Some(from) = next {
        let page = kv.list_keys("b", from).await.unwrap();
        listed.extend(page.keys);
        next = page.next;
    }
    for key in all.iter().filter(|k| !deleted.contains(k)) {
        let times = listed.iter().filter(|l| *l == key).count();
        assert_eq!(times, 1, "{key} listed {times} times");
    }
}

async fn batch_operations_read_write_and_delete_many_keys(kv: Arc<dyn KvBackend>) {
    let keys = |names: &[&str]| names.iter().map(|k| k.to_string()).collect::<Vec<_>>();
    kv.set_many(
        "b",
        vec![("x".into(), b"1".to_vec()), ("y".into(), b"2".to_vec())],
    )
    .await
    .unwrap();
    let got = kv
        .get_many("b", &keys(&["x", "missing", "y"]))
        .await
        .unwrap();
    assert_eq!(got, vec![Some(b"1".to_vec()), None, Some(b"2".to_vec())]);
    kv.delete_many("b", &keys(&["x", "missing"])).await.unwrap();
    let got = kv.get_many("b", &keys(&["x", "y"])).await.unwrap();
    assert_eq!(got, vec![None, Some(b"2".to_vec())]);
    assert_eq!(
        kv.get_many("b", &[]).await.unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
    kv.set_many("b", Vec::new()).await.unwrap();
    kv.delete_many("b", &[]).await.unwrap();
}

async fn increment_on_a_missing_key_starts_from_zero(kv: Arc<dyn KvBackend>) {
    assert_eq!(kv.increment("b", "n", 5).await.unwrap(), 5);
    assert_eq!(kv.increment("b", "n", 0).await.unwrap(), 5);
    assert_eq!(kv.increment("b", "n", 2).await.unwrap(), 7);
    assert_eq!(
        kv.get("b", "n").await.unwrap(),
        Some(b"7".to_vec()),
        "decimal text"
    );
    kv.set("b", "m", b"40".to_vec()).await.unwrap();
    assert_eq!(
        kv.increment("b", "m", 2).await.unwrap(),
        42,
        "a set counter counts"
    );
}

async fn increment_is_atomic_under_200_concurrent_tasks(kv: Arc<dyn KvBackend>) {
    let mut tasks = tokio::task::JoinSet::new();
    for delta in 1..=200u64 {
        let kv = kv.clone();
        tasks.spawn(async move { kv.increment("b", "hits", delta).await.unwrap() });
    }
    let mut results = BTreeSet::new();
    while let Some(result) = tasks.join_next().await {
        assert!(
            results.insert(result.unwrap()),
            "two increments saw the same total"
        );
    }
    let total: u64 = (1..=200).sum();
    assert_eq!(results.len(), 200);
    assert_eq!(results.last(), Some(&total));
    assert_eq!(
        kv.get("b", "hits").await.unwrap(),
        Some(total.to_string().into_bytes())
    );
}

async fn increment_refuses_values_that_are_not_counters(kv: Arc<dyn KvBackend>) {
    let not_counters: [&[u8]; 7] = [b"abc", b"1.5", b"-1", b"+1", b"007", b"", &[0xff, 0xfe]];
    for value in not_counters {
        kv.set("b", "v", value.to_vec()).await.unwrap();
        let err = kv.increment("b", "v", 1).await.unwrap_err();
        assert!(matches!(err, Error::NotACounter { .. }), "{value:?}: {err}");
        assert_eq!(
            kv.get("b", "v").await.unwrap(),
            Some(value.to_vec()),
            "unchanged"
        );
    }
}

async fn increment_refuses_to_overflow(kv: Arc<dyn KvBackend>) {
    let max = i64::MAX.unsigned_abs();
    assert_eq!(kv.increment("b", "n", max - 1).await.unwrap(), max - 1);
    assert_eq!(kv.increment("b", "n", 1).await.unwrap(), max);
    let err = kv.increment("b", "n", 1).await.unwrap_err();
    assert!(matches!(err, Error::CounterOverflow { .. }), "{err}");
    let err = kv.increment("b", "fresh", max + 1).await.unwrap_err();
    assert!(matches!(err, Error::CounterOverflow { .. }), "{err}");
    assert_eq!(
        kv.get("b", "n").await.unwrap(),
        Some(max.to_string().into_bytes())
    );
    assert_eq!(kv.get("b", "fresh").await.unwrap(), None);
}

async fn purge_removes_every_bucket_under_the_prefix_and_nothing_else(kv: Arc<dyn KvBackend>) {
    let gone = KvScope::owned("aaaa", "billing", ["orders"]).unwrap();
    let other_owner = KvScope::owned("bbbb", "billing", [""; 0]).unwrap();
    let neighbour = KvScope::owned("aaaa", "billing-2", [""; 0]).unwrap();
    // Glob metacharacters in a bucket name must be purged literally, not as patterns.
    for bucket in ["cart", "sessions", "odd*[x]?"] {
        let stored = gone.resolve(bucket).unwrap();
        for i in 0..3 {
            kv.set(&stored, &format!("k{i}"), b"v".to_vec())
                .await
                .unwrap();
        }
    }
    let shared = gone.resolve("orders").unwrap();
    kv.set(&shared, "k", b"shared".to_vec()).await.unwrap();
    for scope in [&other_owner, &neighbour] {
        kv.set(&scope.resolve("cart").unwrap(), "k", b"kept".to_vec())
            .await
            .unwrap();
    }

    let private = wasmgate_capabilities::keyvalue::private_namespace(&gone).unwrap();
    let shared_ns = namespace(&shared).to_owned();
    assert_eq!(private, "o/aaaa/fn/billing");
    assert_eq!(
        shared_ns, shared,
        "an owner's shared bucket is a namespace of its own"
    );
    assert!(kv.usage(&private).await.unwrap() > 0);
    let shared_usage = kv.usage(&shared_ns).await.unwrap();

    assert_eq!(kv.purge(&gone.private_prefix()).await.unwrap(), 9);
    assert_eq!(
        kv.usage(&private).await.unwrap(),
        0,
        "the quota usage falls with the purged entries"
    );
    assert_eq!(kv.usage(&shared_ns).await.unwrap(), shared_usage);
    for bucket in ["cart", "sessions", "odd*[x]?"] {
        let page = kv
            .list_keys(&gone.resolve(bucket).unwrap(), ListFrom::Start)
            .await
            .unwrap();
        assert!(page.keys.is_empty(), "{bucket} still holds {:?}", page.keys);
    }
    assert_eq!(
        kv.get(&shared, "k").await.unwrap().as_deref(),
        Some(&b"shared"[..])
    );
    for scope in [&other_owner, &neighbour] {
        let kept = kv.get(&scope.resolve("cart").unwrap(), "k").await.unwrap();
        assert_eq!(kept.as_deref(), Some(&b"kept"[..]), "{scope:?}");
    }
    assert_eq!(
        kv.purge(&gone.private_prefix()).await.unwrap(),
        0,
        "a second purge finds nothing"
    );
    assert!(kv.purge("").await.is_err(), "an empty prefix is refused");
}

async fn functions_see_only_their_own_buckets_and_granted_shared_ones(kv: Arc<dyn KvBackend>) {
    let a = KvScope::new("a", ["orders"]).unwrap();
    let b = KvScope::new("b", ["orders"]).unwrap();
    let c = KvScope::new("c", Vec::<String>::new()).unwrap();

    kv.set(&a.resolve("b").unwrap(), "k", b"a's".to_vec())
        .await
        .unwrap();
    kv.set(&b.resolve("b").unwrap(), "k", b"b's".to_vec())
        .await
        .unwrap();
    assert_eq!(
        kv.get(&a.resolve("b").unwrap(), "k").await.unwrap(),
        Some(b"a's".to_vec())
    );
    assert_eq!(
        kv.get(&b.resolve("b").unwrap(), "k").await.unwrap(),
        Some(b"b's".to_vec())
    );

    kv.set(&a.resolve("orders").unwrap(), "o1", b"paid".to_vec())
        .await
        .unwrap();
    let seen_by_b = kv.get(&b.resolve("orders").unwrap(), "o1").await.unwrap();
    assert_eq!(seen_by_b, Some(b"paid".to_vec()), "granted to both: shared");
    let seen_by_c = kv.get(&c.resolve("orders").unwrap(), "o1").await.unwrap();
    assert_eq!(seen_by_c, None, "c has no grant: its `orders` is its own");
    kv.set(&c.resolve("orders").unwrap(), "o1", b"mine".to_vec())
        .await
        .unwrap();
    let seen_by_a = kv.get(&a.resolve("orders").unwrap(), "o1").await.unwrap();
    assert_eq!(
        seen_by_a,
        Some(b"paid".to_vec()),
        "c cannot write the shared bucket"
    );
}

/// How many bytes the namespace of `bucket` uses.
async fn used(kv: &Arc<dyn KvBackend>, bucket: &str) -> u64 {
    kv.usage(namespace(bucket)).await.unwrap()
}

fn is_quota(err: Error) -> bool {
    let text = err.to_string();
    assert!(text.contains("quotas.max_kv_bytes"), "{text}");
    matches!(err, Error::QuotaExceeded { max: QUOTA, .. })
}

async fn a_write_past_the_quota_is_refused_and_writes_nothing(kv: Arc<dyn KvBackend>) {
    let b = "fn/f/b";
    kv.set(b, "k", vec![1; 49]).await.unwrap();
    assert_eq!(used(&kv, b).await, 50, "key and value");
    let err = kv.set(b, "k2", vec![2; 49]).await.unwrap_err();
    assert!(is_quota(err));
    assert_eq!(kv.get(b, "k2").await.unwrap(), None, "nothing written");
    assert_eq!(used(&kv, b).await, 50);
    // Exactly at the quota is allowed; one byte more is not.
    kv.set(b, "k2", vec![2; 48]).await.unwrap();
    assert_eq!(used(&kv, b).await, QUOTA);
    assert!(is_quota(kv.set(b, "k3", Vec::new()).await.unwrap_err()));
    // An overwrite that grows past the quota keeps the old value.
    assert!(is_quota(kv.set(b, "k", vec![9; 50]).await.unwrap_err()));
    assert_eq!(kv.get(b, "k").await.unwrap(), Some(vec![1; 49]));
    // Shrinking and deleting always work, and give the bytes back.
    kv.set(b, "k", vec![1; 9]).await.unwrap();
    assert_eq!(used(&kv, b).await, 60);
    kv.delete(b, "k2").await.unwrap();
    assert_eq!(used(&kv, b).await, 10);
    kv.set(b, "k3", vec![3; 80]).await.unwrap();
    assert_eq!(used(&kv, b).await, 92);
}

async fn batches_and_counters_count_against_the_quota_too(kv: Arc<dyn KvBackend>) {
    let b = "fn/f/b";
    let big = |k: &str| (k.to_owned(), vec![0u8; 39]);
    // 3 × 40 bytes: refused as a whole.
    let err = kv
        .set_many(b, vec![big("a"), big("b"), big("c")])
        .await
        .unwrap_err();
    assert!(is_quota(err));
    assert_eq!(
        kv.get_many(b, &["a".into(), "b".into()]).await.unwrap(),
        [None, None]
    );
    assert_eq!(used(&kv, b).await, 0);
    // A key repeated in one batch counts once, as its last value.
    kv.set_many(b, vec![big("a"), big("a"), ("b".into(), vec![0; 9])])
        .await
        .unwrap();
    assert_eq!(used(&kv, b).await, 50);
    kv.delete_many(b, &["a".into(), "a".into(), "missing".into()])
        .await
        .unwrap();
    assert_eq!(used(&kv, b).await, 10);
    // A counter costs its key and its decimal digits; growing a digit past the quota fails.
    kv.set(b, "filler", vec![0; 82]).await.unwrap();
    assert_eq!(used(&kv, b).await, 98);
    assert_eq!(kv.increment(b, "n", 9).await.unwrap(), 9);
    assert_eq!(used(&kv, b).await, QUOTA);
    assert!(is_quota(kv.increment(b, "n", 1).await.unwrap_err()));
    assert_eq!(
        kv.get(b, "n").await.unwrap(),
        Some(b"9".to_vec()),
        "unchanged"
    );
    assert!(is_quota(kv.increment(b, "m", 1).await.unwrap_err()));
    assert_eq!(kv.get(b, "m").await.unwrap(), None, "not created");
    assert_eq!(used(&kv, b).await, QUOTA);
}

async fn each_function_and_each_shared_bucket_has_a_quota_of_its_own(kv: Arc<dyn KvBackend>) {
    let full = vec![0u8; 99];
    // Two buckets of one function share its quota.
    kv.set("fn/f/one", "k", full.clone()).await.unwrap();
    assert!(is_quota(
        kv.set("fn/f/two", "k", vec![0]).await.unwrap_err()
    ));
    // Another function, and each shared bucket, have their own.
    kv.set("fn/g/one", "k", full.clone()).await.unwrap();
    kv.set("shared/orders", "k", full.clone()).await.unwrap();
    kv.set("shared/prices", "k", full.clone()).await.unwrap();
    assert!(is_quota(
        kv.set("shared/orders", "j", vec![0]).await.unwrap_err()
    ));
    for bucket in ["fn/f/one", "fn/g/one", "shared/orders", "shared/prices"] {
        assert_eq!(used(&kv, bucket).await, QUOTA, "{bucket}");
    }
    assert_eq!(kv.usage("fn/h").await.unwrap(), 0);
}

async fn usage_is_exact_through_overwrites_and_deletes(kv: Arc<dyn KvBackend>) {
    let b = "fn/f/b";
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..200u64 {
        let key = format!("k{}", i % 7);
        if i % 5 == 0 {
            kv.delete(b, &key).await.unwrap();
            expected.remove(&key);
        } else {
            let value = vec![0u8; usize::try_from(i % 11).unwrap()];
            kv.set(b, &key, value.clone()).await.unwrap();
            expected.insert(key, value);
        }
        let want: u64 = expected
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();
        assert_eq!(used(&kv, b).await, want, "after step {i}");
    }
}

#[tokio::test]
async fn redb_usage_survives_reopening_and_is_counted_for_a_file_written_without_it() {
    let dir = tempfile::tempdir().unwrap();
    {
        let kv = RedbBackend::open(&redb_path(&dir)).unwrap();
        kv.set("fn/f/b", "k", vec![0; 9]).await.unwrap();
        kv.set("shared/s", "k", vec![0; 4]).await.unwrap();
    }
    let kv = RedbBackend::open(&redb_path(&dir)).unwrap().with_quota(12);
    assert_eq!(kv.usage("fn/f").await.unwrap(), 10);
    assert!(matches!(
        kv.set("fn/f/c", "k", vec![0; 2]).await.unwrap_err(),
        Error::QuotaExceeded { used: 13, max: 12 }
    ));
    drop(kv);

    // A file from before usage was kept: entries only.
    let old = tempfile::tempdir().unwrap();
    {
        let db = ::redb::Database::create(redb_path(&old)).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let table: ::redb::TableDefinition<(&str, &str), &[u8]> =
                ::redb::TableDefinition::new("entries");
            let mut entries = txn.open_table(table).unwrap();
            entries.insert(("fn/f/b", "key"), &[0u8; 7][..]).unwrap();
            entries.insert(("fn/f/c", "k"), &[0u8; 1][..]).unwrap();
            entries.insert(("shared/s", "k"), &[0u8; 2][..]).unwrap();
        }
        txn.commit().unwrap();
    }
    for _ in 0..2 {
        let kv = RedbBackend::open(&redb_path(&old)).unwrap();
        assert_eq!(kv.usage("fn/f").await.unwrap(), 12, "counted once");
        assert_eq!(kv.usage("shared/s").await.unwrap(), 3);
    }
}

#[tokio::test]
async fn redb_writes_survive_closing_and_reopening_the_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let kv = RedbBackend::open(&redb_path(&dir)).unwrap();
        kv.set("b", "k", b"kept".to_vec()).await.unwrap();
        kv.increment("b", "n", 3).await.unwrap();
        kv.set_many("b", vec![("x".into(), b"1".to_vec())])
            .await
            .unwrap();
        kv.set("b", "gone", b"x".to_vec()).await.unwrap();
        kv.delete("b", "gone").await.unwrap();
    }
    let kv = RedbBackend::open(&redb_path(&dir)).unwrap();
    assert_eq!(kv.get("b", "k").await.unwrap(), Some(b"kept".to_vec()));
    assert_eq!(kv.increment("b", "n", 1).await.unwrap(), 4);
    assert_eq!(kv.get("b", "x").await.unwrap(), Some(b"1".to_vec()));
    assert_eq!(kv.get("b", "gone").await.unwrap(), None);
}

/// Median latency of `get`, `set` and `increment` over sequential calls, printed in µs.
async fn latency_of_get_set_and_increment(kv: Arc<dyn KvBackend>, name: &str) {
    const CALLS: usize = 2000;
    kv.set("bench", "k", vec![b'v'; 64]).await.unwrap();
    let median = |mut samples: Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let mut timed = Vec::new();
    for op in ["get", "set", "increment"] {
        let mut samples = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let start = Instant::now();
            match op {
                "get" => drop(kv.get("bench", "k").await.unwrap()),
                "set" => kv
                    .set("bench", &format!("k{i}"), vec![b'v'; 64])
                    .await
                    .unwrap(),
                _ => drop(kv.increment("bench", "n", 1).await.unwrap()),
            }
            samples.push(start.elapsed().as_secs_f64() * 1e6);
        }
        timed.push(format!("{op} {:.1} µs", median(samples)));
    }
    println!(
        "{name}: median over {CALLS} sequential calls: {}",
        timed.join(", ")
    );
}
