use super::*;

fn parse(text: &str) -> Result<Trace> {
    Trace::from_reader(text.as_bytes())
}

fn replay(trace: Trace, speedup: f64) -> Vec<Arrival> {
    Arc::new(trace).arrivals(speedup, 7).collect()
}

const INVOCATIONS: &str = "\
app,func,end_timestamp,duration
a1,f1,10.5,0.5
a2,f9,3.0,1.0
a1,f1,2.25,0.25
a1,f2,0.1,0.3
";

#[test]
fn the_2021_format_replays_each_invocation_at_end_minus_duration() {
    let trace = parse(INVOCATIONS).unwrap();
    assert_eq!(trace.format(), TraceFormat::Invocations);
    assert_eq!(trace.functions(), ["a1/f1", "a2/f9", "a1/f2"]);
    assert_eq!(trace.invocations(), 4);
    assert_eq!(trace.span(), Duration::from_secs(10));
    let arrivals = replay(trace, 2.0);
    let got: Vec<(f64, usize)> = arrivals
        .iter()
        .map(|a| (a.at.as_secs_f64(), a.function))
        .collect();
    // Starts 10, 2, 2, -0.2 (clamped to 0), halved by the speed-up, in time order.
    assert_eq!(got, [(0.0, 2), (1.0, 1), (1.0, 0), (5.0, 0)]);
}

#[test]
fn the_2021_format_reads_columns_by_name() {
    let trace = parse("duration,end_timestamp,func,app\n1,4,f,a\n").unwrap();
    assert_eq!(trace.functions(), ["a/f"]);
    assert_eq!(replay(trace, 1.0)[0].at, Duration::from_secs(3));
}

#[test]
fn the_shipped_sample_parses() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/traces/azure2021-sample-200.csv");
    let Ok(text) = std::fs::read_to_string(&path) else {
        // The sample lives beside the repository, not in it; nothing to check without it.
        return;
    };
    let trace = parse(&text).unwrap();
    assert_eq!(trace.invocations(), 199);
    assert_eq!(trace.functions().len(), 31);
}

const PER_MINUTE: &str = "\
HashOwner,HashApp,HashFunction,Trigger,1,2,3
o1,a1,f1,http,2,0,1
o1,a1,f2,timer,0,3,0
";

#[test]
fn the_2019_format_spreads_each_minutes_count_within_that_minute() {
    let trace = parse(PER_MINUTE).unwrap();
    assert_eq!(trace.format(), TraceFormat::PerMinute);
    assert_eq!(trace.functions(), ["o1/a1/f1", "o1/a1/f2"]);
    assert_eq!(trace.invocations(), 6);
    assert_eq!(trace.span(), Duration::from_secs(180));
    // 60 replays a trace minute per second.
    let arrivals = replay(trace, 60.0);
    assert!(
        arrivals.windows(2).all(|w| w[0].at <= w[1].at),
        "in time order"
    );
    let in_second = |s: u64| -> Vec<usize> {
        let mut fs: Vec<usize> = arrivals
            .iter()
            .filter(|a| a.at >= Duration::from_secs(s) && a.at < Duration::from_secs(s + 1))
            .map(|a| a.function)
            .collect();
        fs.sort();
        fs
    };
    assert_eq!(in_second(0), [0, 0]);
    assert_eq!(in_second(1), [1, 1, 1]);
    assert_eq!(in_second(2), [0]);
    assert_eq!(arrivals.len(), 6);
}

#[test]
fn the_2019_format_adds_up_rows_of_the_same_function() {
    let text = "HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,2\no,a,f,queue,3\n";
    let trace = parse(text).unwrap();
    assert_eq!(trace.functions().len(), 1);
    assert_eq!(trace.invocations(), 5);
}

#[test]
fn the_2019_replay_is_repeatable_with_the_same_seed() {
    let trace = Arc::new(parse(PER_MINUTE).unwrap());
    let a: Vec<_> = trace.arrivals(1.0, 3).collect();
    let b: Vec<_> = trace.arrivals(1.0, 3).collect();
    assert_eq!(a, b);
}

fn error_of(text: &str) -> (u64, String) {
    match parse(text).unwrap_err() {
        Error::Trace { line, reason } => (line, reason),
        other => panic!("not a trace error: {other}"),
    }
}

#[test]
fn a_malformed_2019_row_is_reported_with_its_line_number() {
    let (line, reason) = error_of(&format!("{PER_MINUTE}o2,a2,f3,http,1,x,0\n"));
    assert_eq!(line, 4);
    assert!(
        reason.contains("minute 2") && reason.contains("`x`"),
        "{reason}"
    );

    let (line, reason) = error_of(&format!("{PER_MINUTE}o2,a2,f3,http,1\n"));
    assert_eq!(line, 4);
    assert!(reason.contains("5 fields, the header has 7"), "{reason}");
}

#[test]
fn a_malformed_2021_row_is_reported_with_its_line_number() {
    let (line, reason) = error_of("app,func,end_timestamp,duration\na,f,1,0.5\na,f,soon,0.5\n");
    assert_eq!(line, 3);
    assert!(
        reason.contains("end_timestamp") && reason.contains("soon"),
        "{reason}"
    );

    let (line, reason) = error_of("app,func,end_timestamp,duration\na,f,1,-2\n");
    assert_eq!(line, 2);
    assert!(reason.contains("duration"), "{reason}");

    let (line, reason) = error_of("app,func,end_timestamp,duration\na,f,1\n");
    assert_eq!(line, 2);
    assert!(reason.contains("no `duration` field"), "{reason}");
}

#[test]
fn an_unknown_header_names_both_formats() {
    let (line, reason) = error_of("time,name\n1,x\n");
    assert_eq!(line, 1);
    assert!(
        reason.contains("app,func,end_timestamp,duration") && reason.contains("HashOwner"),
        "{reason}"
    );
    let (_, reason) = error_of("HashOwner,HashApp,HashFunction,Trigger,1,3\n");
    assert!(reason.contains("minute column 2"), "{reason}");
}
