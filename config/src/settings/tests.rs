use super::*;
use crate::error::Error;

fn parse(text: &str) -> Settings {
    toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
}

fn invalid(settings: &Settings) -> String {
    match settings.validate() {
        Err(e @ Error::InvalidSettings { .. }) => {
            assert_eq!(e.code(), "invalid_config");
            e.to_string()
        }
        other => panic!("should be refused, got {other:?}"),
    }
}

#[test]
fn the_example_file_lists_exactly_the_defaults() {
    let example = parse(include_str!("../../examples/wasmgate.toml"));
    assert_eq!(example, Settings::default());
    example.validate().unwrap();
}

#[test]
fn the_example_file_lists_every_key() {
    let example = include_str!("../../examples/wasmgate.toml");
    let keys = [
        "listen",
        "data_dir",
        "admin_token",
        "metrics_token",
        "metrics_listen",
        "insecure_open_admin",
        "trusted_issuers",
        "policies",
        "log_format",
        "max_module_size",
        "shutdown_grace",
        "[cluster]",
        "nats_url",
        "node_id",
        "advertise",
        "balance_factor",
        "heartbeat",
        "node_capacity",
        "drain_delay",
        "replicas",
        "ack_wait",
        "nats_user",
        "nats_password_env",
        "node_key",
        "trusted_nodes",
        "[registries.",
        "username",
        "password_env",
        "plain_http",
        "[keepalive]",
        "policy",
        "time_scale",
        "[http]",
        "max_connections",
        "max_header_size",
        "max_headers",
        "header_read_timeout",
        "write_timeout",
        "max_connection_age",
        "control_frame_burst",
        "control_frames_per_second",
        "body_read_timeout",
        "max_request_body",
        "max_concurrent_streams",
        "audience",
        "max_validity",
        "allow_no_expiry",
        "[admission.issuer_names]",
        "[defaults]",
        "idle_timeout",
        "timeout",
        "memory",
        "max_concurrency",
        "max_instances",
        "min_instances",
        "queue_timeout",
        "max_response_body",
        "max_messages_per_call",
        "max_open_buckets",
        "reuse_max_uses",
        "reuse_idle",
        "[pool]",
        "code_budget",
        "instances",
        "max_memory",
        "wasm_stack",
        "epoch_tick",
        "memory_guard",
        "fair_share",
        "allow_reuse",
        "[egress]",
        "allow",
        "[schedules]",
        "catch_up",
        "[async_calls]",
        "max_body",
        "max_queued",
        "max_result",
        "retention",
        "[secrets]",
        "env",
        "[quotas]",
        "max_functions",
        "max_stored_bytes",
        "max_kv_bytes",
        "max_backlog_messages",
        "max_backlog_bytes",
        "[versions]",
        "keep",
        "canary_window",
        "canary_error_margin",
        "canary_latency_margin",
        "[tracing]",
        "otlp_endpoint",
        "sample_ratio",
        "service_name",
    ];
    for key in keys {
        assert!(
            example
                .lines()
                .any(|l| l.trim_start_matches("# ").starts_with(key)),
            "{key} is missing"
        );
    }
}

#[test]
fn defaults_are_the_documented_values() {
    let s = Settings::default();
    assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(s.data_dir, PathBuf::from("./wasmgate-data"));
    assert_eq!((s.admin_token, s.log_format), (None, LogFormat::Human));
    assert_eq!(s.max_module_size.to_string(), "64MiB");
    assert_eq!(s.shutdown_grace.to_string(), "30s");
    assert_eq!(s.defaults.idle_timeout.to_string(), "5m");
    assert_eq!(s.defaults.queue_timeout.to_string(), "1s");
    assert_eq!(s.defaults.max_response_body.to_string(), "100MiB");
    assert_eq!(s.defaults.max_messages_per_call, 1000);
    assert_eq!(s.defaults.max_open_buckets, 100);
    assert_eq!(s.defaults.reuse_max_uses, 1000);
    assert!(s.schedules.catch_up);
    assert_eq!(s.defaults.reuse_idle.to_string(), "10s");
    assert!(s.pool.allow_reuse);
    assert_eq!(s.pool.epoch_tick.to_string(), "5ms");
    assert_eq!(s.pool.instances, 1000);
    assert!(s.pool.fair_share);
    assert_eq!(s.http.max_connections, 10_000);
    assert_eq!(s.http.max_header_size.to_string(), "16KiB");
    assert_eq!(s.http.header_read_timeout.to_string(), "10s");
    assert_eq!(s.http.max_request_body.to_string(), "32MiB");
}

#[test]
fn an_empty_file_is_all_defaults_and_a_partial_one_keeps_the_rest() {
    assert_eq!(parse(""), Settings::default());
    let s = parse("listen = \"0.0.0.0:9000\"\n[pool]\ninstances = 10\n");
    assert_eq!(s.listen.port(), 9000);
    assert_eq!(s.pool.instances, 10);
    assert_eq!(s.pool.max_memory, DEFAULT_MAX_MEMORY);
    assert_eq!(s.defaults, FunctionDefaults::default());
}

#[test]
fn unknown_keys_are_refused_at_every_level() {
    for text in [
        "listn = \"0.0.0.0:1\"",
        "[defaults]\nmemroy = \"1MiB\"",
        "[pool]\nslots = 3",
        "[extra]\na = 1",
    ] {
        let e = toml::from_str::<Settings>(text).unwrap_err();
        assert!(e.message().contains("unknown field"), "{text}: {e}");
    }
}

#[test]
fn malformed_values_are_refused_with_the_value_named() {
    let e = toml::from_str::<Settings>("[pool]\nmax_memory = \"1 gigabyte\"").unwrap_err();
    assert!(e.message().contains("size `1 gigabyte` is invalid"), "{e}");
    let e = toml::from_str::<Settings>("log_format = \"xml\"").unwrap_err();
    assert!(e.message().contains("`human`"), "{e}");
    let e = toml::from_str::<Settings>("[egress]\nallow = [\"10.0.0.1/8\"]").unwrap_err();
    assert!(e.message().contains("write `10.0.0.0/8`"), "{e}");
}

#[test]
fn egress_opens_only_the_ranges_listed() {
    assert!(Settings::default().egress.allow.is_empty());
    let s = parse("[egress]\nallow = [\"10.0.0.0/8\", \"127.0.0.1/32\", \"fd00::/8\"]");
    let listed: Vec<String> = s.egress.allow.iter().map(|r| r.to_string()).collect();
    assert_eq!(listed, ["10.0.0.0/8", "127.0.0.1", "fd00::/8"]);
    s.validate().unwrap();
    assert!(toml::from_str::<Settings>("[egress]\nopen = []").is_err());
}

#[test]
fn validate_refuses_inconsistent_settings_naming_the_key() {
    type Breakage = fn(&mut Settings);
    let cases: [(&str, Breakage); 37] = [
        ("defaults.reuse_max_uses 0 is out of range", |s| {
            s.defaults.reuse_max_uses = 0
        }),
        ("defaults.reuse_max_uses 1000001 is out of range", |s| {
            s.defaults.reuse_max_uses = 1_000_001
        }),
        ("defaults.reuse_idle is zero", |s| {
            s.defaults.reuse_idle = "0s".parse().unwrap()
        }),
        ("http.max_connections is 0", |s| s.http.max_connections = 0),
        ("http.max_header_size 4KiB is out of range", |s| {
            s.http.max_header_size = ByteSize::kib(4)
        }),
        ("http.max_header_size 2MiB is out of range", |s| {
            s.http.max_header_size = ByteSize::mib(2)
        }),
        ("http.max_headers 0 is out of range", |s| {
            s.http.max_headers = 0
        }),
        ("http.write_timeout is zero", |s| {
            s.http.write_timeout = "0s".parse().unwrap()
        }),
        ("http.control_frame_burst is 0", |s| {
            s.http.control_frame_burst = 0
        }),
        ("http.header_read_timeout is zero", |s| {
            s.http.header_read_timeout = "0s".parse().unwrap()
        }),
        ("http.body_read_timeout is zero", |s| {
            s.http.body_read_timeout = "0s".parse().unwrap()
        }),
        ("http.max_request_body is zero", |s| {
            s.http.max_request_body = ByteSize::from_bytes(0)
        }),
        ("pool.instances is 0", |s| s.pool.instances = 0),
        ("pool.epoch_tick 500us", |s| {
            s.pool.epoch_tick = "500us".parse().unwrap()
        }),
        ("pool.epoch_tick 2s", |s| {
            s.pool.epoch_tick = "2s".parse().unwrap()
        }),
        ("pool.code_budget is zero", |s| {
            s.pool.code_budget = ByteSize::from_bytes(0)
        }),
        ("pool.max_memory 1KiB", |s| {
            s.pool.max_memory = ByteSize::kib(1)
        }),
        ("pool.wasm_stack 2MiB", |s| {
            s.pool.wasm_stack = ByteSize::mib(2)
        }),
        ("pool.memory_guard 4GiB", |s| {
            s.pool.memory_guard = ByteSize::gib(4)
        }),
        ("pool.wasm_stack 1KiB", |s| {
            s.pool.wasm_stack = ByteSize::kib(1)
        }),
        ("defaults.memory 2GiB exceeds pool.max_memory 1GiB", |s| {
            s.defaults.memory = ByteSize::gib(2)
        }),
        ("defaults.timeout is zero", |s| {
            s.defaults.timeout = "0s".parse().unwrap()
        }),
        ("defaults.max_concurrency is 0", |s| {
            s.defaults.max_concurrency = 0
        }),
        (
            "defaults.min_instances 200 exceeds defaults.max_instances 100",
            |s| s.defaults.min_instances = 200,
        ),
        ("defaults.max_response_body is zero", |s| {
            s.defaults.max_response_body = ByteSize::from_bytes(0)
        }),
        (
            "defaults.max_messages_per_call 0 is out of range: set 1 to 1000000",
            |s| s.defaults.max_messages_per_call = 0,
        ),
        (
            "defaults.max_messages_per_call 1000001 is out of range",
            |s| s.defaults.max_messages_per_call = 1_000_001,
        ),
        (
            "defaults.max_open_buckets 0 is out of range: set 1 to 10000",
            |s| s.defaults.max_open_buckets = 0,
        ),
        ("defaults.max_open_buckets 10001 is out of range", |s| {
            s.defaults.max_open_buckets = 10_001
        }),
        ("max_module_size is zero", |s| {
            s.max_module_size = ByteSize::from_bytes(0)
        }),
        ("admin_token may hold only printable ASCII", |s| {
            s.admin_token = Some("two words two words two words two words".into())
        }),
        ("admin_token (WASMGATE_ADMIN_TOKEN) is 31 characters", |s| {
            s.admin_token = Some("a".repeat(31))
        }),
        (
            "metrics_token (WASMGATE_METRICS_TOKEN) is 5 characters",
            |s| s.metrics_token = Some("short".into()),
        ),
        (
            "insecure_open_admin would open the admin API to the network on 0.0.0.0:8080",
            |s| {
                s.insecure_open_admin = true;
                s.listen = "0.0.0.0:8080".parse().unwrap();
            },
        ),
        (
            "insecure_open_admin is set together with admin_token",
            |s| {
                s.insecure_open_admin = true;
                s.admin_token = Some("a".repeat(40));
            },
        ),
        (
            "metrics_listen 0.0.0.0:9090 is not a loopback address: set metrics_token",
            |s| s.metrics_listen = Some("0.0.0.0:9090".parse().unwrap()),
        ),
        ("trusted issuer `not-a-key`", |s| {
            s.trusted_issuers = vec!["not-a-key".into()]
        }),
    ];
    for (expected, break_it) in cases {
        let mut settings = Settings::default();
        break_it(&mut settings);
        let message = invalid(&settings);
        assert!(
            message.contains(expected),
            "expected {expected:?} in {message:?}"
        );
    }
}

#[test]
fn validate_accepts_the_edges_of_each_range() {
    let mut s = Settings::default();
    s.pool.epoch_tick = "1ms".parse().unwrap();
    s.pool.wasm_stack = MIN_WASM_STACK;
    s.defaults.memory = s.pool.max_memory;
    s.defaults.min_instances = s.defaults.max_instances;
    s.trusted_issuers = vec!["A".repeat(42) + "-"];
    s.shutdown_grace = "0s".parse().unwrap();
    s.defaults.queue_timeout = "0s".parse().unwrap();
    s.http.max_header_size = MIN_HEADER_SIZE;
    s.http.max_headers = 1;
    s.validate().unwrap();
    s.http.max_header_size = MAX_HEADER_SIZE;
    s.http.max_headers = 10_000;
    s.validate().unwrap();
    s.defaults.max_response_body = ByteSize::from_bytes(1);
    s.defaults.max_messages_per_call = 1;
    s.defaults.max_open_buckets = 1;
    s.validate().unwrap();
    s.defaults.max_messages_per_call = 1_000_000;
    s.defaults.max_open_buckets = 10_000;
    s.validate().unwrap();
    s.pool.epoch_tick = "1s".parse().unwrap();
    s.validate().unwrap();
    s.admin_token = Some("a".repeat(32));
    s.metrics_token = Some("m".repeat(32));
    s.metrics_listen = Some("0.0.0.0:9090".parse().unwrap());
    s.validate().unwrap();
    s.admin_token = None;
    s.insecure_open_admin = true;
    s.listen = "[::1]:8080".parse().unwrap();
    s.validate().unwrap();
}

#[test]
fn debug_output_hides_the_admin_token() {
    let settings = Settings {
        admin_token: Some("s3cret".into()),
        metrics_token: Some("m3trics".into()),
        ..Settings::default()
    };
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("s3cret") && !shown.contains("m3trics") && shown.contains("<redacted>"),
        "{shown}"
    );
}

#[test]
fn a_redis_kv_backend_needs_a_redis_url() {
    let with = |kv: &str| {
        let settings: Settings = toml::from_str(kv).unwrap();
        settings.validate()
    };
    assert!(with("[kv]\nbackend = \"redis\"\n").is_err());
    assert!(with("[kv]\nbackend = \"redis\"\nurl = \"http://x\"\n").is_err());
    assert!(with("[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\n").is_ok());
    assert!(with("[kv]\nbackend = \"embedded\"\n").is_ok());
    assert!(toml::from_str::<Settings>("[kv]\nbackend = \"etcd\"\n").is_err());
}

#[test]
fn the_keepalive_policy_is_read_by_name_and_a_bad_one_says_which_names_exist() {
    let settings = parse("[keepalive]\npolicy = \"fixed:10m\"\ntime_scale = 60.0\n");
    assert_eq!(
        settings.keepalive.policy,
        crate::KeepAlivePolicy::Fixed(Some(std::time::Duration::from_secs(600)))
    );
    settings.validate().unwrap();
    assert_eq!(
        parse("[keepalive]\npolicy = \"adaptive\"\n")
            .keepalive
            .policy,
        crate::KeepAlivePolicy::Adaptive(None, wasmgate_policy::ColdStartWorth::DEFAULT)
    );
    let priced = parse("[keepalive]\npolicy = \"adaptive@16MiB*10m\"\n")
        .keepalive
        .policy;
    assert_eq!(
        priced.worth().map(|w| w.to_string()),
        Some("16MiB*10m".to_owned())
    );
    let unpriced = toml::from_str::<Settings>("[keepalive]\npolicy = \"adaptive@16MiB\"\n")
        .unwrap_err()
        .to_string();
    assert!(unpriced.contains("BYTES*DURATION"), "{unpriced}");
    let bad = toml::from_str::<Settings>("[keepalive]\npolicy = \"forever\"\n")
        .unwrap_err()
        .to_string();
    assert!(bad.contains("forever") && bad.contains("adaptive"), "{bad}");
    let slow = parse("[keepalive]\ntime_scale = 0.5\n")
        .validate()
        .unwrap_err();
    assert!(slow.to_string().contains("keepalive.time_scale"), "{slow}");
}
