use super::*;
use crate::keyvalue::embedded::RedbBackend;

struct State {
    kv: KvCtx,
    table: ResourceTable,
}

fn view(state: &mut State) -> KvView<'_> {
    KvView {
        ctx: &state.kv,
        table: &mut state.table,
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
    assert!(matches!(to_wit(invalid), Ok(store::Error::AccessDenied)));
    let not_counter = Error::NotACounter { key: "k".into() };
    assert!(
        matches!(to_wit(not_counter), Ok(store::Error::Other(m)) if m == "value is not a counter")
    );
    let overflow = Error::CounterOverflow { key: "k".into() };
    assert!(
        matches!(to_wit(overflow), Ok(store::Error::Other(m)) if m == "counter would overflow")
    );
}

#[test]
fn storage_failures_hide_their_detail_and_table_errors_trap() {
    let storage = Error::Redb(redb::Error::Corrupted("secret detail".into()));
    assert!(matches!(to_wit(storage), Ok(store::Error::Other(m)) if m == "storage failure"));
    let table = Error::Table(wasmtime::component::ResourceTableError::NotPresent);
    assert!(to_wit(table).is_err());
}

#[tokio::test]
async fn a_guest_bucket_resolves_through_the_scope() {
    use store::{Host as _, HostBucket as _};
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("kv.redb")).unwrap());
    let mut state = State {
        kv: KvCtx::new(backend.clone(), KvScope::new("a", ["orders"]).unwrap()),
        table: ResourceTable::new(),
    };
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
