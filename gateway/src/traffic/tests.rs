use super::*;

fn weights(pairs: &[(u64, u8)]) -> Weights {
    Weights::try_from(pairs.iter().copied().collect::<BTreeMap<_, _>>()).unwrap()
}

fn code(e: ApiError) -> &'static str {
    e.classify().1
}

#[test]
fn a_table_gives_each_version_as_many_slots_as_its_weight_in_version_order() {
    let table = WeightTable::new(&weights(&[(7, 90), (8, 10)]));
    let counts = (0..BUCKETS).fold([0; 2], |mut c, b| {
        c[table.get(b)] += 1;
        c
    });
    assert_eq!(counts, [90, 10]);
    assert_eq!((table.get(0), table.get(89), table.get(90)), (0, 0, 1));
    let zero = WeightTable::new(&weights(&[(1, 0), (2, 100)]));
    assert!(
        (0..BUCKETS).all(|b| zero.get(b) == 1),
        "weight 0 gets no slot"
    );
    assert_eq!(WeightTable::new(&Weights::single(4)).get(57), 0);
}

#[test]
fn the_primary_is_the_largest_share_and_the_newest_among_equals() {
    assert_eq!(weights(&[(7, 90), (8, 10)]).primary(), 7);
    assert_eq!(weights(&[(7, 50), (8, 50)]).primary(), 8);
    assert_eq!(Weights::single(3).primary(), 3);
}

#[test]
fn a_body_parses_into_kept_versions_and_every_mistake_is_invalid_traffic() {
    let kept = |v: u64| (1..=8).contains(&v);
    let parsed = Weights::parse(br#"{"7": 90, "8": 10}"#, kept).unwrap();
    assert_eq!(parsed, weights(&[(7, 90), (8, 10)]));
    assert!(Weights::parse(br#"{"7": 100, "8": 0}"#, kept).is_ok());
    for bad in [
        &b"not json"[..],
        br#"[90, 10]"#,
        br#"{}"#,
        br#"{"7": 90, "8": 20}"#,
        br#"{"7": 0, "8": 0}"#,
        br#"{"7": 90.5, "8": 9.5}"#,
        br#"{"7": -10, "8": 110}"#,
        br#"{"seven": 100}"#,
        br#"{"0": 100}"#,
        br#"{"9": 100}"#,
    ] {
        let refused = Weights::parse(bad, kept).unwrap_err();
        assert_eq!(
            code(refused),
            "invalid_traffic",
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn a_sticky_value_always_lands_in_the_same_slot_and_values_spread_over_all_slots() {
    assert_eq!(sticky_bucket(b"user-42"), sticky_bucket(b"user-42"));
    let mut seen = [0u32; BUCKETS];
    for i in 0..10_000 {
        seen[sticky_bucket(format!("user-{i}").as_bytes())] += 1;
    }
    // 100 per slot expected; a fair hash keeps every slot well within 50..150.
    assert!(seen.iter().all(|n| (50..150).contains(n)), "{seen:?}");
}

#[test]
fn sticky_values_are_read_from_the_named_header_or_cookie() {
    let mut headers = HeaderMap::new();
    headers.insert("x-user", "alice".parse().unwrap());
    headers.append("cookie", "a=1; session=s3; b=2".parse().unwrap());
    let header = StickyKey::try_from("header:X-User".to_owned()).unwrap();
    let cookie = StickyKey::try_from("cookie:session".to_owned()).unwrap();
    let missing = StickyKey::try_from("cookie:other".to_owned()).unwrap();
    assert_eq!(sticky_value(&header, &headers), Some(&b"alice"[..]));
    assert_eq!(sticky_value(&cookie, &headers), Some(&b"s3"[..]));
    assert_eq!(sticky_value(&missing, &headers), None);
}
