use super::*;
use crate::byte_size::ByteSize;
use crate::error::Error;

fn resolve(text: &str) -> Result<FunctionSettings> {
    Manifest::from_toml(text)?.resolve(&FunctionDefaults::default(), &PoolSettings::default())
}

fn refused(text: &str, defaults: &FunctionDefaults, pool: &PoolSettings) -> String {
    match Manifest::from_toml(text).and_then(|m| m.resolve(defaults, pool)) {
        Err(e @ Error::InvalidManifest { .. }) => {
            assert_eq!(e.code(), "invalid_manifest");
            e.to_string()
        }
        other => panic!("{text:?} should be refused, got {other:?}"),
    }
}

#[test]
fn an_empty_manifest_gets_every_node_default() {
    let f = resolve("").unwrap();
    assert_eq!(
        f,
        FunctionSettings {
            min_instances: 0,
            max_instances: 100,
            max_concurrency: 100,
            idle_timeout: Duration::from_secs(300),
            memory: 128 << 20,
            timeout: Duration::from_secs(30),
            queue_timeout: Duration::from_secs(1),
            max_response_body: 100 << 20,
            max_messages_per_call: 1000,
            max_open_buckets: 100,
            reuse: None,
        }
    );
}

#[test]
fn manifest_values_win_over_defaults_key_by_key() {
    let f =
        resolve("[scale]\nmax_instances = 3\nidle_timeout = \"10s\"\n[limits]\nmemory = \"64MiB\"")
            .unwrap();
    assert_eq!(f.max_instances, 3);
    assert_eq!(f.idle_timeout, Duration::from_secs(10));
    assert_eq!(f.memory, 64 << 20);
    assert_eq!(
        f.max_concurrency, 100,
        "unset keys still come from the defaults"
    );
    assert_eq!(f.timeout, Duration::from_secs(30));
}

#[test]
fn node_defaults_fill_what_the_manifest_leaves_out() {
    let defaults = FunctionDefaults {
        timeout: "2s".parse().unwrap(),
        memory: ByteSize::mib(32),
        queue_timeout: "0s".parse().unwrap(),
        ..FunctionDefaults::default()
    };
    let f = Manifest::default()
        .resolve(&defaults, &PoolSettings::default())
        .unwrap();
    assert_eq!(
        (f.timeout, f.memory, f.queue_timeout),
        (Duration::from_secs(2), 32 << 20, Duration::ZERO)
    );
}

#[test]
fn zero_idle_timeout_is_allowed() {
    assert_eq!(
        resolve("[scale]\nidle_timeout = \"0s\"")
            .unwrap()
            .idle_timeout,
        Duration::ZERO
    );
}

#[test]
fn limits_the_node_cannot_honour_are_refused_naming_the_key() {
    let (defaults, pool) = (FunctionDefaults::default(), PoolSettings::default());
    let message = refused("[limits]\nmemory = \"2GiB\"", &defaults, &pool);
    assert_eq!(
        message,
        "invalid manifest: limits.memory 2GiB exceeds the node's pool.max_memory 1GiB"
    );
    let message = refused("[scale]\nmin_instances = 101", &defaults, &pool);
    assert!(
        message.contains("scale.min_instances 101 exceeds defaults.max_instances 100"),
        "{message}"
    );
    let small_pool = PoolSettings {
        instances: 4,
        ..PoolSettings::default()
    };
    let message = refused(
        "[scale]\nmin_instances = 5\nmax_instances = 10",
        &defaults,
        &small_pool,
    );
    assert!(
        message.contains("exceeds the node's pool.instances 4"),
        "{message}"
    );
}

#[test]
fn request_limits_come_from_the_manifest_or_the_defaults() {
    let f = resolve(
        "[limits]\nmax_response_body = \"1MiB\"\nmax_messages_per_call = 5\nmax_open_buckets = 7",
    )
    .unwrap();
    assert_eq!(
        (
            f.max_response_body,
            f.max_messages_per_call,
            f.max_open_buckets
        ),
        (1 << 20, 5, 7)
    );
    let defaults = FunctionDefaults {
        max_response_body: ByteSize::kib(1),
        max_messages_per_call: 3,
        max_open_buckets: 2,
        ..FunctionDefaults::default()
    };
    let f = Manifest::default()
        .resolve(&defaults, &PoolSettings::default())
        .unwrap();
    assert_eq!(
        (
            f.max_response_body,
            f.max_messages_per_call,
            f.max_open_buckets
        ),
        (1024, 3, 2)
    );
}

#[test]
fn unvalidated_defaults_are_caught_too() {
    let pool = PoolSettings::default();
    for (defaults, hint) in [
        (
            FunctionDefaults {
                timeout: "0s".parse().unwrap(),
                ..FunctionDefaults::default()
            },
            "defaults.timeout 0s",
        ),
        (
            FunctionDefaults {
                max_concurrency: 0,
                ..FunctionDefaults::default()
            },
            "defaults.max_concurrency 0",
        ),
        (
            FunctionDefaults {
                max_instances: 0,
                ..FunctionDefaults::default()
            },
            "defaults.max_instances 0",
        ),
        (
            FunctionDefaults {
                memory: ByteSize::gib(4),
                ..FunctionDefaults::default()
            },
            "defaults.memory 4GiB exceeds",
        ),
        (
            FunctionDefaults {
                memory: ByteSize::from_bytes(1),
                ..FunctionDefaults::default()
            },
            "below one WebAssembly page",
        ),
        (
            FunctionDefaults {
                max_response_body: ByteSize::from_bytes(0),
                ..FunctionDefaults::default()
            },
            "defaults.max_response_body 0B",
        ),
        (
            FunctionDefaults {
                max_messages_per_call: 0,
                ..FunctionDefaults::default()
            },
            "defaults.max_messages_per_call 0 is out of range",
        ),
        (
            FunctionDefaults {
                max_open_buckets: 20_000,
                ..FunctionDefaults::default()
            },
            "defaults.max_open_buckets 20000 is out of range",
        ),
    ] {
        let message = refused("", &defaults, &pool);
        assert!(message.contains(hint), "{hint}: {message}");
    }
}

#[test]
fn resolve_checks_manifests_that_skipped_from_toml() {
    let mut m = Manifest::default();
    m.scale.max_concurrency = Some(0);
    let e = m
        .resolve(&FunctionDefaults::default(), &PoolSettings::default())
        .unwrap_err();
    assert!(e.to_string().contains("scale.max_concurrency is 0"), "{e}");
}

#[test]
fn reuse_is_off_unless_the_manifest_opts_in() {
    assert_eq!(resolve("").unwrap().reuse, None);
    assert_eq!(resolve("[scale]\nreuse = false").unwrap().reuse, None);
    assert_eq!(
        resolve("[scale]\nreuse_max_uses = 5").unwrap().reuse,
        None,
        "bounds alone do not turn reuse on"
    );
    assert_eq!(
        resolve("[scale]\nreuse = true").unwrap().reuse,
        Some(Reuse {
            max_uses: 1000,
            idle: Duration::from_secs(10),
        })
    );
    assert_eq!(
        resolve("[scale]\nreuse = true\nreuse_max_uses = 3\nreuse_idle = \"2s\"")
            .unwrap()
            .reuse,
        Some(Reuse {
            max_uses: 3,
            idle: Duration::from_secs(2),
        })
    );
}

#[test]
fn a_node_that_refuses_reuse_runs_opted_in_functions_fresh() {
    let pool = PoolSettings {
        allow_reuse: false,
        ..PoolSettings::default()
    };
    let settings = Manifest::from_toml("[scale]\nreuse = true")
        .unwrap()
        .resolve(&FunctionDefaults::default(), &pool)
        .unwrap();
    assert_eq!(settings.reuse, None);
}

#[test]
fn the_node_reuse_idle_is_capped_at_a_shorter_idle_timeout() {
    let f = resolve("[scale]\nreuse = true\nidle_timeout = \"3s\"").unwrap();
    assert_eq!(f.reuse.unwrap().idle, Duration::from_secs(3));
}

#[test]
fn reuse_bounds_out_of_range_are_refused_naming_the_key() {
    let defaults = FunctionDefaults::default();
    let pool = PoolSettings::default();
    let e = refused(
        "[scale]\nreuse = true\nreuse_max_uses = 0",
        &defaults,
        &pool,
    );
    assert!(e.contains("scale.reuse_max_uses 0 is out of range"), "{e}");
    let e = refused("[scale]\nreuse_idle = \"0s\"", &defaults, &pool);
    assert!(e.contains("scale.reuse_idle is zero"), "{e}");
    let e = refused(
        "[scale]\nreuse = true\nreuse_idle = \"20s\"\nidle_timeout = \"10s\"",
        &defaults,
        &pool,
    );
    assert!(e.contains("exceeds scale.idle_timeout"), "{e}");
    let short = FunctionDefaults {
        idle_timeout: "5s".parse().unwrap(),
        ..FunctionDefaults::default()
    };
    let e = refused("[scale]\nreuse = true\nreuse_idle = \"6s\"", &short, &pool);
    assert!(e.contains("exceeds the function's idle_timeout 5s"), "{e}");
    let bad_default = FunctionDefaults {
        reuse_max_uses: 2_000_000,
        ..FunctionDefaults::default()
    };
    let e = refused("[scale]\nreuse = true", &bad_default, &pool);
    assert!(e.contains("defaults.reuse_max_uses 2000000"), "{e}");
}
