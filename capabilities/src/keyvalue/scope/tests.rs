use super::*;

fn scope(function: &str, shared: &[&str]) -> KvScope {
    KvScope::new(function, shared.iter().copied()).unwrap()
}

#[test]
fn a_private_bucket_lives_under_the_function() {
    assert_eq!(scope("a", &[]).resolve("b").unwrap(), "fn/a/b");
    assert_eq!(scope("b", &[]).resolve("b").unwrap(), "fn/b/b");
}

#[test]
fn a_granted_bucket_is_shared_and_an_ungranted_one_stays_private() {
    let a = scope("a", &["orders"]);
    let b = scope("b", &["orders"]);
    let c = scope("c", &[]);
    assert_eq!(a.resolve("orders").unwrap(), "shared/orders");
    assert_eq!(b.resolve("orders").unwrap(), "shared/orders");
    assert_eq!(c.resolve("orders").unwrap(), "fn/c/orders");
    assert_eq!(a.resolve("cart").unwrap(), "fn/a/cart");
}

#[test]
fn the_empty_identifier_opens_the_default_bucket_as_on_wasmtime_and_spin() {
    assert_eq!(scope("a", &[]).resolve("").unwrap(), "fn/a/default");
    assert_eq!(
        scope("a", &[]).resolve(DEFAULT_BUCKET).unwrap(),
        "fn/a/default"
    );
    let shared = scope("a", &["default"]);
    assert_eq!(shared.resolve("").unwrap(), "shared/default");
}

#[test]
fn bad_bucket_names_are_refused() {
    let s = scope("a", &[]);
    let long = "x".repeat(MAX_BUCKET_NAME_LEN + 1);
    for bad in ["a/b", "/", "..\u{0}", "tab\there", long.as_str()] {
        let err = s.resolve(bad).unwrap_err();
        assert!(matches!(err, Error::InvalidBucket { .. }), "{bad:?}: {err}");
    }
    assert!(s.resolve(&"x".repeat(MAX_BUCKET_NAME_LEN)).is_ok());
    assert!(
        s.resolve("..").is_ok(),
        "dots are harmless: names cannot contain '/'"
    );
}

#[test]
fn bad_scope_names_are_refused() {
    assert!(matches!(
        KvScope::new("", Vec::<String>::new()),
        Err(Error::InvalidScope { .. })
    ));
    assert!(matches!(
        KvScope::new("a/b", Vec::<String>::new()),
        Err(Error::InvalidScope { .. })
    ));
    assert!(matches!(
        KvScope::new("a", ["ok", "no/slash"]),
        Err(Error::InvalidScope { .. })
    ));
    let s = KvScope::new("a", ["y", "x"]).unwrap();
    assert_eq!(s.function(), "a");
    assert_eq!(s.shared().collect::<Vec<_>>(), ["x", "y"]);
}

#[test]
fn owned_scopes_keep_each_owners_data_apart_even_under_one_name() {
    let a = KvScope::owned("aaaa", "billing", ["orders"]).unwrap();
    let b = KvScope::owned("bbbb", "billing", ["orders"]).unwrap();
    assert_eq!(a.resolve("cart").unwrap(), "o/aaaa/fn/billing/cart");
    assert_eq!(b.resolve("cart").unwrap(), "o/bbbb/fn/billing/cart");
    assert_eq!(a.resolve("orders").unwrap(), "o/aaaa/shared/orders");
    assert_eq!(b.resolve("orders").unwrap(), "o/bbbb/shared/orders");
    assert_eq!(a.private_prefix(), "o/aaaa/fn/billing/");
    assert_eq!(scope("billing", &[]).private_prefix(), "fn/billing/");
    assert!(KvScope::owned("a/b", "billing", [""; 0]).is_err());
}
