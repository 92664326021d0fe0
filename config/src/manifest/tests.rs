use super::*;

fn refused(text: &str) -> String {
    match Manifest::from_toml(text) {
        Err(e @ Error::InvalidManifest { .. }) => {
            assert_eq!(e.code(), "invalid_manifest");
            e.to_string()
        }
        other => panic!("{text:?} should be refused, got {other:?}"),
    }
}

#[test]
fn the_example_manifest_parses_with_every_key() {
    let m = Manifest::from_toml(include_str!("../../examples/manifest.toml")).unwrap();
    let routes: Vec<&str> = m.http.routes.iter().map(Route::as_str).collect();
    assert_eq!(routes, ["/hello", "/api/{id}", "/files/{*rest}"]);
    assert_eq!(m.scale.min_instances, Some(0));
    assert_eq!(m.scale.max_instances, Some(50));
    assert_eq!(m.scale.max_concurrency, Some(50));
    assert_eq!(m.scale.idle_timeout, Some("5m".parse().unwrap()));
    assert_eq!(m.scale.reuse, Some(false));
    assert_eq!(m.scale.reuse_max_uses, Some(1000));
    assert_eq!(m.scale.reuse_idle, Some("10s".parse().unwrap()));
    assert_eq!(m.limits.memory, Some(ByteSize::mib(64)));
    assert_eq!(m.limits.timeout, Some("10s".parse().unwrap()));
    assert_eq!(m.limits.max_response_body, Some(ByteSize::mib(10)));
    assert_eq!(m.limits.max_messages_per_call, Some(50));
    assert_eq!(m.limits.max_open_buckets, Some(10));
    assert_eq!(m.triggers.len(), 2);
    assert_eq!(m.health.path.as_deref(), Some("/healthz"));
    assert_eq!(m.health.failures(), 3);
    assert_eq!(m.rollout.window, Some("5m".parse().unwrap()));
    assert_eq!(m.rollout.latency_margin, Some(0.5));
    assert_eq!(m.triggers[1].subject.as_str(), "audit.>");
    assert_eq!(m.triggers[1].queue.as_deref(), Some("auditors"));
    assert_eq!(m.schedules.len(), 2);
    assert_eq!(m.schedules[0].cron, "0 */15 * * * *");
    assert_eq!(m.schedules[1].timezone.as_deref(), Some("Europe/Paris"));
    assert_eq!(m.schedules[1].path.as_deref(), Some("/weekly"));
    assert_eq!(m.config["greeting"], ConfigValue::Value("hello".into()));
    assert_eq!(
        m.config["api_key"],
        ConfigValue::Env {
            env: "PAYMENTS_API_KEY".into()
        }
    );
}

#[test]
fn an_empty_manifest_is_the_default() {
    assert_eq!(Manifest::from_toml("").unwrap(), Manifest::default());
    assert_eq!(
        Manifest::from_toml("[scale]\n[limits]\n").unwrap(),
        Manifest::default()
    );
}

#[test]
fn unknown_keys_are_refused_with_line_and_column() {
    for (text, at) in [
        ("colour = 1", "line 1, column 1"),
        ("[scale]\nmax_instance = 3", "line 2, column 1"),
        ("[limits]\ncpu = \"1\"", "line 2"),
        ("[[triggers]]\nsubject = \"a\"\ngroup = \"g\"", "line 3"),
        ("[http]\nroute = [\"/a\"]", "line 2"),
        ("[config]\nk = { env = \"A\", default = \"x\" }", "line 2"),
    ] {
        let message = refused(text);
        assert!(message.contains(at), "{text:?}: {message}");
    }
}

#[test]
fn field_errors_say_what_is_wrong_and_where() {
    for (text, hint) in [
        ("[http]\nroutes = [\"/fn/x\"]", "belongs to the gateway"),
        ("[limits]\nmemory = \"lots\"", "size `lots` is invalid"),
        ("[limits]\ntimeout = \"soon\"", "duration `soon` is invalid"),
        (
            "[[triggers]]\nsubject = \"a..b\"",
            "subject `a..b` is invalid",
        ),
        ("[scale]\nmax_instances = -1", "line 2"),
        (
            "[config]\nk = 3",
            "a config value is a string, or `{ env = \"NAME\" }`",
        ),
        ("[[triggers]]\nqueue = \"q\"", "missing field `subject`"),
    ] {
        let message = refused(text);
        assert!(message.contains(hint), "{text:?}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
}

#[test]
fn inconsistent_manifests_are_refused() {
    for (text, hint) in [
        ("[scale]\nmax_instances = 0", "scale.max_instances is 0"),
        ("[scale]\nmax_concurrency = 0", "scale.max_concurrency is 0"),
        (
            "[scale]\nmin_instances = 5\nmax_instances = 2",
            "scale.min_instances 5 exceeds scale.max_instances 2",
        ),
        ("[limits]\ntimeout = \"0s\"", "limits.timeout is zero"),
        ("[limits]\nmemory = \"1KiB\"", "below one WebAssembly page"),
        (
            "[limits]\nmax_response_body = \"0B\"",
            "limits.max_response_body is zero",
        ),
        (
            "[limits]\nmax_messages_per_call = 0",
            "limits.max_messages_per_call 0 is out of range: set 1 to 1000000",
        ),
        (
            "[limits]\nmax_open_buckets = 10001",
            "limits.max_open_buckets 10001 is out of range: set 1 to 10000",
        ),
        ("[http]\nroutes = [\"/a\", \"/a\"]", "lists `/a` twice"),
        (
            "[[triggers]]\nsubject = \"a\"\n[[triggers]]\nsubject = \"a\"",
            "subject `a` twice",
        ),
        ("[[triggers]]\nsubject = \"a\"\nqueue = \"\"", "queue"),
        (
            "[[triggers]]\nsubject = \"a\"\nqueue = \"my group\"",
            "queue",
        ),
        ("[config]\n\"\" = \"v\"", "empty key"),
        (
            "[config]\nk = { env = \"1BAD\" }",
            "not an environment variable name",
        ),
        (
            "[config]\nk = { env = \"WASMGATE_ADMIN_TOKEN\" }",
            "belongs to the gateway",
        ),
    ] {
        let message = refused(text);
        assert!(message.contains(hint), "{text:?}: {message}");
    }
}

#[test]
fn same_subject_on_different_queues_is_allowed() {
    let m = Manifest::from_toml(
        "[[triggers]]\nsubject = \"a\"\n[[triggers]]\nsubject = \"a\"\nqueue = \"q\"",
    )
    .unwrap();
    assert_eq!(m.triggers.len(), 2);
}

#[test]
fn json_round_trip_keeps_everything_and_omits_unset_keys() {
    let m = Manifest::from_toml(include_str!("../../examples/manifest.toml")).unwrap();
    let json = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<Manifest>(&json).unwrap(), m);
    assert!(
        json.contains(r#""api_key":{"env":"PAYMENTS_API_KEY"}"#),
        "{json}"
    );
    assert!(json.contains(r#""memory":"64MiB""#), "{json}");
    assert!(
        json.contains(r#""messaging":{"publish":["orders.*.paid","audit.>"]}"#),
        "{json}"
    );
    assert_eq!(serde_json::to_string(&Manifest::default()).unwrap(), "{}");
    let sparse = Manifest::from_toml("[limits]\ntimeout = \"5s\"").unwrap();
    assert_eq!(
        serde_json::to_string(&sparse).unwrap(),
        r#"{"limits":{"timeout":"5s"}}"#
    );
}

#[test]
fn toml_round_trip_keeps_everything() {
    let m = Manifest::from_toml(include_str!("../../examples/manifest.toml")).unwrap();
    let text = toml::to_string(&m).unwrap();
    assert_eq!(Manifest::from_toml(&text).unwrap(), m, "{text}");
}

#[test]
fn shared_buckets_are_names_and_nothing_else() {
    let m = Manifest::from_toml("[keyvalue]\nshared = [\"orders\", \"a.b-c_d\"]\n").unwrap();
    assert_eq!(m.keyvalue.shared, ["orders", "a.b-c_d"]);
    for bad in ["\"\"", "\"a/b\"", "\"../x\""] {
        let err = Manifest::from_toml(&format!("[keyvalue]\nshared = [{bad}]\n")).unwrap_err();
        assert_eq!(err.code(), "invalid_manifest", "{bad}");
    }
}

#[test]
fn publish_subjects_are_subjects_or_patterns() {
    let m =
        Manifest::from_toml("[messaging]\npublish = [\"orders.created\", \"audit.>\"]\n").unwrap();
    assert_eq!(m.messaging.publish.len(), 2);
    for bad in ["\"\"", "\"a..b\"", "\"a b\""] {
        let err = Manifest::from_toml(&format!("[messaging]\npublish = [{bad}]\n")).unwrap_err();
        assert_eq!(err.code(), "invalid_manifest", "{bad}");
    }
}

#[test]
fn reuse_keys_out_of_range_say_how_to_fix_them() {
    assert!(refused("[scale]\nreuse_max_uses = 0").contains("set 1 to 1000000"));
    assert!(refused("[scale]\nreuse_max_uses = 1000001").contains("set 1 to 1000000"));
    assert!(refused("[scale]\nreuse_idle = \"0s\"").contains("e.g. `10s`, or set reuse = false"));
    assert!(
        refused("[scale]\nreuse_idle = \"1m\"\nidle_timeout = \"30s\"").contains("lower the first")
    );
    let ok = Manifest::from_toml(
        "[scale]\nreuse = true\nreuse_max_uses = 1\nreuse_idle = \"30s\"\nidle_timeout = \"30s\"",
    );
    assert!(ok.is_ok(), "{ok:?}");
}
