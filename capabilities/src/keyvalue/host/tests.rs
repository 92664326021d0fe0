use super::*;
use crate::keyvalue::embedded::RedbBackend;

struct State {
    kv: KvCtx,
    table: ResourceTable,
    usage: KvUsage,
}

impl State {
    fn new(kv: KvCtx) -> Self {
        State {
            kv,
            table: ResourceTable::new(),
            usage: KvUsage::default(),
        }
    }
}

fn view(state: &mut State) -> KvView<'_> {
    KvView {
        ctx: &state.kv,
        table: &mut state.table,
        usage: &mut state.usage,
    }
}

/// Whether `linker` already has `func` in `interface`: defining it again is then refused.
fn defines(linker: &mut Linker<State>, interface: &str, func: &str) -> bool {
    let name = format!("wasi:keyvalue/{interface}@0.2.0-draft");
    let mut instance = linker.instance(&name).unwrap();
    instance.func_wrap(func, |_, (): ()| Ok(())).is_err()
}

#[test]
fn add_to_linker_defines_store_atomics_and_batch() {
    let engine = wasmtime::Engine::default();
    let mut linker = Linker::<State>::new(&engine);
    add_to_linker(&mut linker, view).unwrap();
    let expected = [
        ("store", "open"),
        ("store", "[method]bucket.get"),
        ("store", "[method]bucket.list-keys"),
        ("atomics", "increment"),
        ("batch", "get-many"),
        ("batch", "set-many"),
        ("batch", "delete-many"),
    ];
    for (interface, func) in expected {
        assert!(
            defines(&mut linker, interface, func),
            "{interface}.{func} missing"
        );
        let mut empty = Linker::<State>::new(&engine);
        assert!(
            !defines(&mut empty, interface, func),
            "the check itself is sound"
        );
    }
}

#[test]
fn guest_errors_map_to_their_wit_variants() {
    let invalid = Error::InvalidBucket {
        name: String::new(),
        reason: "must not be empty",
    };
    assert!(matches!(
        to_wit(invalid, "f"),
        Ok(store::Error::AccessDenied)
    ));
    let not_counter = Error::NotACounter { key: "k".into() };
    assert!(
        matches!(to_wit(not_counter, "f"), Ok(store::Error::Other(m)) if m == r#"value under key "k" is not a counter"#)
    );
    let overflow = Error::CounterOverflow { key: "k".into() };
    assert!(
        matches!(to_wit(overflow, "f"), Ok(store::Error::Other(m)) if m == r#"counter under key "k" would overflow"#)
    );
}

#[test]
fn storage_failures_hide_their_detail_and_table_errors_trap() {
    let storage = Error::Redb(redb::Error::Corrupted("secret detail".into()));
    assert!(matches!(to_wit(storage, "f"), Ok(store::Error::Other(m)) if m == "storage failure"));
    let table = Error::Table(wasmtime::component::ResourceTableError::NotPresent);
    assert!(to_wit(table, "f").is_err());
}

#[tokio::test]
async fn a_guest_bucket_resolves_through_the_scope() {
    use store::{Host as _, HostBucket as _};
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("kv.redb")).unwrap());
    let mut state = State::new(KvCtx::new(
        backend.clone(),
        KvScope::new("a", ["orders"]).unwrap(),
    ));
    let mut kv = view(&mut state);
    let mine = kv.open("cart".into()).await.unwrap();
    kv.set(mine, "k".into(), b"v".to_vec()).await.unwrap();
    let shared = kv.open("orders".into()).await.unwrap();
    kv.set(shared, "k".into(), b"s".to_vec()).await.unwrap();
    assert!(matches!(
        kv.open("a/b".into()).await,
        Err(Error::InvalidBucket { .. })
    ));
    assert_eq!(
        backend.get("fn/a/cart", "k").await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        backend.get("shared/orders", "k").await.unwrap(),
        Some(b"s".to_vec())
    );
}

#[tokio::test]
async fn opens_past_the_bucket_limit_fail_with_an_error_naming_it_until_one_is_dropped() {
    use store::{Host as _, HostBucket as _};
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("kv.redb")).unwrap());
    let kv = KvCtx::new(backend, KvScope::new("a", Vec::<String>::new()).unwrap())
        .with_max_open_buckets(3);
    let mut state = State::new(kv.clone());
    let mut kv_view = view(&mut state);
    let mut open = Vec::new();
    for i in 0..3 {
        open.push(kv_view.open(format!("b{i}")).await.unwrap());
    }
    for _ in 0..2 {
        let refused = kv_view.open("b3".into()).await.unwrap_err();
        match to_wit(refused, "f").unwrap() {
            store::Error::Other(text) => {
                assert!(text.contains("limits.max_open_buckets"), "{text}");
                assert!(text.contains("at most 3"), "{text}");
            }
            other => panic!("expected other(..), got {other:?}"),
        }
    }
    assert_eq!(kv.limit_hits(), 1, "one instance reached the limit");
    let first = open.remove(0);
    kv_view.drop(first).await.unwrap();
    kv_view.open("b3".into()).await.unwrap();
}

#[tokio::test]
async fn long_keys_and_large_values_are_refused_before_the_backend() {
    use batch::Host as _;
    use store::{Host as _, HostBucket as _};
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("kv.redb")).unwrap());
    let mut state = State::new(KvCtx::new(
        backend.clone(),
        KvScope::new("a", Vec::<String>::new()).unwrap(),
    ));
    let mut kv = view(&mut state);
    let long_key = "k".repeat(crate::keyvalue::MAX_KEY_LEN + 1);
    let big = vec![0u8; crate::keyvalue::MAX_VALUE_SIZE + 1];
    let rep = kv.open("b".into()).await.unwrap().rep();
    let bucket = || Resource::<Bucket>::new_own(rep);
    let refusals = [
        kv.set(bucket(), long_key.clone(), b"v".to_vec()).await,
        kv.set(bucket(), "k".into(), big.clone()).await,
        kv.get(bucket(), long_key.clone()).await.map(|_| ()),
        kv.delete(bucket(), long_key.clone()).await,
        kv.set_many(bucket(), vec![("k".into(), big)]).await,
    ];
    for refused in refusals {
        match to_wit(refused.unwrap_err(), "f").unwrap() {
            store::Error::Other(text) => assert!(text.contains("limit of"), "{text}"),
            other => panic!("expected other(..), got {other:?}"),
        }
    }
    assert_eq!(backend.get("fn/a/b", "k").await.unwrap(), None);
    let at_limit = vec![1u8; crate::keyvalue::MAX_VALUE_SIZE];
    kv.set(bucket(), "k".repeat(crate::keyvalue::MAX_KEY_LEN), at_limit)
        .await
        .unwrap();
}
