use super::super::tests::record;
use super::*;

fn weights(pairs: &[(u64, u8)]) -> Weights {
    Weights::try_from(pairs.iter().copied().collect::<BTreeMap<_, _>>()).unwrap()
}

fn version(name: &str, version: u64, blob: &str) -> Record {
    let mut r = record(name);
    r.version = version;
    r.artifact = format!("sha256:a{blob}");
    r.original = Some(format!("sha256:o{blob}"));
    r
}

#[test]
fn pruning_takes_the_oldest_versions_past_keep_and_never_a_live_one() {
    let kept = [1, 2, 3, 4, 5];
    assert_eq!(prunable(&kept, &Weights::single(5), 3), vec![1, 2]);
    assert_eq!(prunable(&kept, &Weights::single(1), 3), vec![2, 3]);
    assert_eq!(
        prunable(&kept, &weights(&[(1, 50), (2, 50)]), 2),
        vec![3, 4, 5],
        "live versions stay even when that leaves more than keep"
    );
    assert_eq!(prunable(&kept, &Weights::single(5), 10), Vec::<u64>::new());
    assert_eq!(prunable(&[], &Weights::single(1), 1), Vec::<u64>::new());
}

#[test]
fn deploys_number_versions_keep_them_and_prune_past_keep_releasing_their_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    let registry = Registry::open(&path, 2).unwrap();
    for n in 1..=3 {
        let mut r = version("a", 0, &n.to_string());
        r.version = registry.next_version("a").unwrap();
        assert_eq!(r.version, n);
        let pruned = registry.put(&r).unwrap();
        let pruned: Vec<u64> = pruned.iter().map(|r| r.version).collect();
        assert_eq!(pruned, if n == 3 { vec![1] } else { vec![] });
    }
    let kept: Vec<u64> = registry
        .versions("a")
        .unwrap()
        .iter()
        .map(|r| r.version)
        .collect();
    assert_eq!(kept, vec![2, 3]);
    assert!(!registry.keeps_blob("sha256:a1").unwrap());
    assert!(registry.keeps_blob("sha256:o2").unwrap());
    assert_eq!(
        registry.live("a").unwrap().unwrap().weights,
        Weights::single(3)
    );

    // A split survives reopening; the name's record is the largest share's.
    let (v2, v3) = (
        registry.version("a", 2).unwrap().unwrap(),
        registry.version("a", 3).unwrap().unwrap(),
    );
    let split = weights(&[(2, 90), (3, 10)]);
    registry.set_live("a", &split, &[v2, v3]).unwrap();
    drop(registry);
    let registry = Registry::open(&path, 2).unwrap();
    let live = registry.live("a").unwrap().unwrap();
    assert_eq!((live.weights, live.next_version), (split, 4));
    assert_eq!(registry.all().unwrap()[0].version, 2);

    // Numbers are never reused, and a delete takes every version and blob.
    let removed = registry.remove("a").unwrap();
    assert_eq!(removed.len(), 2);
    assert!(registry.kept_blobs().unwrap().is_empty());
    assert_eq!(registry.live("a").unwrap(), None);
}

#[test]
fn a_record_from_before_versions_becomes_version_one_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry.redb");
    {
        let db = redb::Database::create(&path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(FUNCTIONS).unwrap();
            let mut old = serde_json::to_value(record("old")).unwrap();
            old.as_object_mut().unwrap().remove("version");
            table
                .insert("old", serde_json::to_vec(&old).unwrap().as_slice())
                .unwrap();
        }
        txn.commit().unwrap();
    }
    let registry = Registry::open(&path, 10).unwrap();
    assert_eq!(registry.all().unwrap()[0].version, 1);
    assert_eq!(registry.versions("old").unwrap().len(), 1);
    assert_eq!(registry.next_version("old").unwrap(), 2);
    assert!(registry.keeps_blob("sha256:11").unwrap());
}
