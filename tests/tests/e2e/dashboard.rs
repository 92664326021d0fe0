//! The Grafana dashboard (`docker/grafana-dashboard.json`) charts every metric family the gateway
//! exports, except those listed in [`NOT_CHARTED`] with the reason, and charts nothing it does not
//! export.

use std::collections::BTreeSet;
use wasmgate_tests::{Gateway, eventually, guests};

const DASHBOARD: &str = include_str!("../../../docker/grafana-dashboard.json");

/// Where the families are declared: a family without samples yet (a counter vector nobody has
/// incremented) is absent from a scrape, so the declarations are read too.
const FAMILIES: &str = include_str!("../../../gateway/src/metrics/families.rs");

/// Where cluster mode's families are declared (registered only in cluster mode).
const CLUSTER_FAMILIES: &str = include_str!("../../../gateway/src/cluster/mod.rs");

/// Families deliberately not on the dashboard, each with why.
const NOT_CHARTED: &[(&str, &str)] = &[(
    "wasmgate_artifacts_rebuilt_total",
    // Counted once, at start, after an engine change (wasmtime version, CPU features,
    // pool.memory_guard); the startup log says so, and a chart of it would be a flat line.
    "start-time only",
)];

/// The `wasmgate_*` names in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("wasmgate_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        found.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    found
}

/// The family a series name belongs to (`x_bucket`, `x_sum`, `x_count` are histogram `x`).
fn family_of(series: &str, families: &BTreeSet<String>) -> String {
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = series.strip_suffix(suffix)
            && families.contains(base)
        {
            return base.to_owned();
        }
    }
    series.to_owned()
}

#[tokio::test]
async fn every_metric_family_is_on_the_dashboard_or_deliberately_left_off() {
    let gw = Gateway::builder().start().await.unwrap();
    assert_eq!(
        gw.deploy("hello", guests::HTTP_HELLO)
            .await
            .unwrap()
            .status(),
        201
    );
    let get = |path: &str| gw.client().get(gw.url(path)).send();
    let response = get("/fn/hello").await.unwrap();
    assert_eq!(response.status(), 200);
    // A call is counted when its body ends, which the scrape must not outrun.
    response.bytes().await.unwrap();
    assert_eq!(get("/elsewhere").await.unwrap().status(), 404);
    let scrape = eventually(
        "the call is counted",
        std::time::Duration::from_secs(5),
        || async { gw.metrics().await.unwrap() },
        |scrape| scrape.contains("# TYPE wasmgate_requests_total"),
    )
    .await
    .unwrap();

    let scraped: BTreeSet<String> = scrape
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| name.starts_with("wasmgate_"))
        .map(str::to_owned)
        .collect();
    assert!(
        scraped.contains("wasmgate_requests_total"),
        "the scrape lists families: {scrape}"
    );
    // The string literals that are metric names (not `wasmgate_config::` paths).
    let declared: BTreeSet<String> = [FAMILIES, CLUSTER_FAMILIES]
        .iter()
        .flat_map(|source| source.split('"'))
        .filter(|s| {
            s.starts_with("wasmgate_")
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect();
    let families: BTreeSet<String> = scraped.union(&declared).cloned().collect();

    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut charted = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or("");
            charted.extend(names(expr).iter().map(|s| family_of(s, &families)));
        }
    }
    let left_off: BTreeSet<String> = NOT_CHARTED.iter().map(|(n, _)| (*n).to_owned()).collect();

    let missing: Vec<&String> = families
        .iter()
        .filter(|f| !charted.contains(*f) && !left_off.contains(*f))
        .collect();
    assert!(
        missing.is_empty(),
        "families neither on the dashboard nor in NOT_CHARTED: {missing:?}"
    );
    let unknown: Vec<&String> = charted.difference(&families).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard charts names the gateway does not export: {unknown:?}"
    );
    let stale: Vec<&String> = left_off
        .iter()
        .filter(|f| !families.contains(*f) || charted.contains(*f))
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_CHARTED lists families that are charted or no longer exist: {stale:?}"
    );
}
