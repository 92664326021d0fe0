use super::*;
use wasmgate_sim::{Config, KeepAlivePolicy, simulate};

#[test]
fn a_2021_trace_becomes_calls_with_their_durations() {
    let trace = Trace::from_reader(
        "app,func,end_timestamp,duration\na,f,10.5,0.5\nb,g,3.0,1.0\na,f,2.25,0.25\n".as_bytes(),
    )
    .unwrap();
    let workload = workload(trace, 1).unwrap();
    assert_eq!(workload.functions(), ["a/f", "b/g"]);
    let calls: Vec<(u32, f64, f64)> = workload
        .calls()
        .iter()
        .map(|c| {
            (
                c.function(),
                c.start().as_secs_f64(),
                c.duration().as_secs_f64(),
            )
        })
        .collect();
    assert_eq!(calls, [(0, 2.0, 0.25), (1, 2.0, 1.0), (0, 10.0, 0.5)]);
}

#[test]
fn a_per_minute_trace_becomes_one_second_calls_within_their_minutes() {
    let trace = Trace::from_reader(
        "HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,2,1\n".as_bytes(),
    )
    .unwrap();
    let workload = workload(trace, 3).unwrap();
    let starts: Vec<f64> = workload
        .calls()
        .iter()
        .map(|c| c.start().as_secs_f64())
        .collect();
    assert_eq!(starts.len(), 3);
    assert!(starts[..2].iter().all(|&s| s < 60.0) && starts[2] >= 60.0);
    assert!(
        workload
            .calls()
            .iter()
            .all(|c| c.duration() == PER_MINUTE_CALL_DURATION)
    );
}

#[test]
fn bad_costs_files_name_the_file_and_the_format() {
    let dir = std::env::temp_dir().join(format!("wasmgate-costs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("costs.json");
    std::fs::write(&path, r#"{"kinds": []}"#).unwrap();
    let message = costs(Some(&path)).unwrap_err().to_string();
    assert!(message.contains("costs.json"), "{message}");
    assert!(message.contains("`kinds` is empty"), "{message}");
    assert!(message.contains("default.json for the format"), "{message}");
    let missing = costs(Some(&dir.join("absent.json")))
        .unwrap_err()
        .to_string();
    assert!(missing.contains("absent.json"), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_shipped_sample_replays_under_every_policy() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/azure2021-sample-200.csv");
    let Ok(trace) = Trace::from_path(&path) else {
        // The sample lives beside the repository, not in it; nothing to check without it.
        return;
    };
    let workload = workload(trace, 1).unwrap();
    let costs = costs(None).unwrap();
    for policy in [
        "fixed",
        "fixed:10m",
        "adaptive",
        "histogram",
        "greedy-dual",
        "lru",
        "none",
    ] {
        let policy: KeepAlivePolicy = policy.parse().unwrap();
        let report = simulate(&workload, &costs, &Config::new(policy, 1 << 30)).unwrap();
        assert_eq!(report.invocations, 199, "{policy}");
        assert!(
            report.cold_starts >= 31,
            "{policy}: every function starts cold once"
        );
    }
}
