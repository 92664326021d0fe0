use super::*;
use std::io::Write;

/// A settings file in the temp dir, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, text: &str) -> Self {
        let path = std::env::temp_dir().join(format!(
            "wasmgate-config-{}-{name}.toml",
            std::process::id()
        ));
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

const KEY_A: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
const KEY_B: &str = "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB";
const KEY_C: &str = "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC";

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_with(
    file: Option<&TempFile>,
    env: &BTreeMap<String, String>,
    overrides: Overrides,
) -> Result<Settings> {
    load(Sources {
        file: file.map(|f| f.0.as_path()),
        env,
        overrides,
    })
}

#[test]
fn nothing_given_means_the_defaults() {
    assert_eq!(
        load_with(None, &env(&[]), Overrides::default()).unwrap(),
        Settings::default()
    );
}

#[test]
fn file_then_env_then_flags_each_win_over_the_layer_below() {
    let file = TempFile::new(
        "layers",
        "listen = \"127.0.0.1:1000\"\ndata_dir = \"/from/file\"\nlog_format = \"json\"\nadmin_token = \"file-token-0123456789abcdefghijklmnop\"\n[pool]\ninstances = 7\n",
    );
    let from_file = load_with(Some(&file), &env(&[]), Overrides::default()).unwrap();
    assert_eq!(from_file.listen.port(), 1000);
    assert_eq!(from_file.pool.instances, 7);

    let vars = env(&[
        ("WASMGATE_LISTEN", "127.0.0.1:2000"),
        ("WASMGATE_DATA_DIR", "/from/env"),
        ("WASMGATE_LOG_FORMAT", "human"),
        (
            "WASMGATE_ADMIN_TOKEN",
            "env-token-0123456789abcdefghijklmnopq",
        ),
    ]);
    let from_env = load_with(Some(&file), &vars, Overrides::default()).unwrap();
    assert_eq!(from_env.listen.port(), 2000);
    assert_eq!(from_env.data_dir, PathBuf::from("/from/env"));
    assert_eq!(from_env.log_format, LogFormat::Human);
    assert_eq!(
        from_env.admin_token.as_deref(),
        Some("env-token-0123456789abcdefghijklmnopq")
    );
    assert_eq!(
        from_env.pool.instances, 7,
        "keys the environment does not set keep the file's value"
    );

    let flags = Overrides {
        listen: Some("127.0.0.1:3000".parse().unwrap()),
        data_dir: Some("/from/flag".into()),
        log_format: Some(LogFormat::Json),
        admin_token: Some("flag-token-0123456789abcdefghijklmnop".into()),
        ..Overrides::default()
    };
    let from_flags = load_with(Some(&file), &vars, flags).unwrap();
    assert_eq!(from_flags.listen.port(), 3000);
    assert_eq!(from_flags.data_dir, PathBuf::from("/from/flag"));
    assert_eq!(from_flags.log_format, LogFormat::Json);
    assert_eq!(
        from_flags.admin_token.as_deref(),
        Some("flag-token-0123456789abcdefghijklmnop")
    );
}

#[test]
fn env_issuers_replace_the_files_and_trust_flags_add_to_them() {
    let file = TempFile::new(
        "issuers",
        &format!("trusted_issuers = [\"{KEY_A}\"]\npolicies = [\"a.rego\"]\n"),
    );
    let vars = env(&[("WASMGATE_TRUSTED_ISSUERS", &format!(" {KEY_B} ,, {KEY_C},"))]);
    let flags = Overrides {
        trust: vec![KEY_A.into(), KEY_B.into()],
        policies: vec!["b.rego".into()],
        ..Overrides::default()
    };
    let s = load_with(Some(&file), &vars, flags).unwrap();
    assert_eq!(s.trusted_issuers, [KEY_B, KEY_C, KEY_A]);
    assert_eq!(
        s.policies,
        [PathBuf::from("a.rego"), PathBuf::from("b.rego")]
    );
}

#[test]
fn empty_variables_and_tokens_count_as_unset() {
    let file = TempFile::new(
        "empty",
        &format!(
            "admin_token = \"file-token-0123456789abcdefghijklmnop\"\ntrusted_issuers = [\"{KEY_A}\"]\n"
        ),
    );
    let vars = env(&[
        ("WASMGATE_ADMIN_TOKEN", ""),
        ("WASMGATE_TRUSTED_ISSUERS", ""),
        ("WASMGATE_LISTEN", ""),
    ]);
    let s = load_with(
        Some(&file),
        &vars,
        Overrides {
            admin_token: Some(String::new()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.admin_token.as_deref(),
        Some("file-token-0123456789abcdefghijklmnop")
    );
    assert_eq!(s.trusted_issuers, [KEY_A]);
    assert_eq!(s.listen, crate::defaults::DEFAULT_LISTEN);

    let blank = TempFile::new("blank-token", "admin_token = \"\"\n");
    assert_eq!(
        load_with(Some(&blank), &env(&[]), Overrides::default())
            .unwrap()
            .admin_token,
        None
    );
}

#[test]
fn other_wasmgate_variables_are_ignored() {
    let s = load_with(
        None,
        &env(&[("WASMGATE_SOMETHING_ELSE", "x"), ("PATH", "/bin")]),
        Overrides::default(),
    )
    .unwrap();
    assert_eq!(s, Settings::default());
}

#[test]
fn bad_env_values_name_the_variable() {
    for (var, value, hint) in [
        ("WASMGATE_LISTEN", "localhost", "write IP:PORT"),
        ("WASMGATE_LISTEN", "127.0.0.1", "write IP:PORT"),
        ("WASMGATE_LOG_FORMAT", "xml", "use `human` or `json`"),
    ] {
        let e = load_with(None, &env(&[(var, value)]), Overrides::default()).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidEnv { var: v, .. } if v == var),
            "{e:?}"
        );
        assert_eq!(e.code(), "invalid_config");
        let message = e.to_string();
        assert!(
            message.starts_with(&format!("environment variable {var}: ")) && message.contains(hint),
            "{message}"
        );
    }
    let e = load_with(
        None,
        &env(&[("WASMGATE_TRUSTED_ISSUERS", "abc")]),
        Overrides::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidSettings { .. }), "{e:?}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let missing = Path::new("/nonexistent/wasmgate.toml");
    let e = load(Sources {
        file: Some(missing),
        env: &env(&[]),
        overrides: Overrides::default(),
    })
    .unwrap_err();
    assert!(
        matches!(&e, Error::ReadFile { path, .. } if path == missing),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("cannot read config file /nonexistent/wasmgate.toml: "),
        "{e}"
    );
}

#[test]
fn a_malformed_file_is_a_parse_error_with_line_and_column() {
    let file = TempFile::new("unknown", "listen = \"127.0.0.1:1\"\n[pool]\nslots = 3\n");
    let e = load_with(Some(&file), &env(&[]), Overrides::default()).unwrap_err();
    assert!(matches!(e, Error::ParseFile { .. }), "{e:?}");
    assert_eq!(e.code(), "invalid_config");
    let message = e.to_string();
    assert!(
        message.contains("line 3, column 1: unknown field `slots`"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
}

#[test]
fn the_layered_result_is_validated() {
    let file = TempFile::new("invalid", "[pool]\nmax_memory = \"64MiB\"\n");
    let e = load_with(Some(&file), &env(&[]), Overrides::default()).unwrap_err();
    assert!(
        e.to_string()
            .contains("defaults.memory 128MiB exceeds pool.max_memory 64MiB"),
        "{e}"
    );
}

#[test]
fn debug_output_hides_the_flag_token() {
    let shown = format!(
        "{:?}",
        Overrides {
            admin_token: Some("s3cret-s3cret-s3cret-s3cret-s3cret".into()),
            ..Overrides::default()
        }
    );
    assert!(!shown.contains("s3cret"), "{shown}");
}

#[test]
fn metrics_and_open_admin_settings_come_from_env_and_flags() {
    let vars = env(&[
        (
            "WASMGATE_METRICS_TOKEN",
            "metrics-token-0123456789abcdefghijklm",
        ),
        ("WASMGATE_METRICS_LISTEN", "127.0.0.1:9090"),
        ("WASMGATE_INSECURE_OPEN_ADMIN", "true"),
    ]);
    let s = load_with(None, &vars, Overrides::default()).unwrap();
    assert_eq!(
        s.metrics_token.as_deref(),
        Some("metrics-token-0123456789abcdefghijklm")
    );
    assert_eq!(s.metrics_listen, Some("127.0.0.1:9090".parse().unwrap()));
    assert!(s.insecure_open_admin);

    let flags = Overrides {
        metrics_listen: Some("127.0.0.1:9191".parse().unwrap()),
        insecure_open_admin: true,
        ..Overrides::default()
    };
    let s = load_with(None, &env(&[]), flags).unwrap();
    assert_eq!(s.metrics_listen, Some("127.0.0.1:9191".parse().unwrap()));
    assert!(s.insecure_open_admin);

    let bad = env(&[("WASMGATE_INSECURE_OPEN_ADMIN", "yes please")]);
    let e = load_with(None, &bad, Overrides::default()).unwrap_err();
    assert!(
        e.to_string().contains("WASMGATE_INSECURE_OPEN_ADMIN"),
        "{e}"
    );
}

#[test]
fn a_short_admin_token_is_refused_naming_the_key_and_variable() {
    let vars = env(&[("WASMGATE_ADMIN_TOKEN", "x")]);
    let e = load_with(None, &vars, Overrides::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("admin_token (WASMGATE_ADMIN_TOKEN) is 1 characters; use at least 32"),
        "{text}"
    );
    let vars = env(&[("WASMGATE_ADMIN_TOKEN", &"y".repeat(32))]);
    load_with(None, &vars, Overrides::default()).unwrap();
}

#[test]
fn cluster_keys_layer_file_env_and_flags_and_cluster_mode_needs_shared_kv_and_a_token() {
    let file = TempFile::new(
        "cluster",
        "admin_token = \"file-token-0123456789abcdefghijklmnop\"\n[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n[cluster]\nnats_url = \"nats://file:4222\"\nnode_id = \"from-file\"\nadvertise = \"http://file:8080\"\nbalance_factor = 1.5\n",
    );
    let vars = env(&[
        ("WASMGATE_NODE_ID", "from-env"),
        ("WASMGATE_ADVERTISE", "http://env:8080"),
    ]);
    let flags = Overrides {
        cluster: Some("nats://flag:4222".into()),
        ..Overrides::default()
    };
    let s = load_with(Some(&file), &vars, flags).unwrap();
    assert_eq!(s.cluster.nats_url.as_deref(), Some("nats://flag:4222"));
    assert_eq!(s.cluster.node_id.as_deref(), Some("from-env"));
    assert_eq!(s.cluster.advertise.as_deref(), Some("http://env:8080"));
    assert_eq!(s.cluster.balance_factor, 1.5);
    assert!(s.cluster.enabled());

    let on = env(&[
        ("WASMGATE_CLUSTER", "nats://127.0.0.1:4222"),
        ("WASMGATE_NODE_ID", "n1"),
        ("WASMGATE_ADVERTISE", "http://127.0.0.1:8080"),
        (
            "WASMGATE_ADMIN_TOKEN",
            "env-token-0123456789abcdefghijklmnopq",
        ),
    ]);
    let local_kv = load_with(None, &on, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(local_kv.contains("backend = \"redis\""), "{local_kv}");

    let redis = TempFile::new(
        "cluster-redis",
        "[kv]\nbackend = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n",
    );
    let mut no_token = on.clone();
    no_token.remove("WASMGATE_ADMIN_TOKEN");
    let error = load_with(Some(&redis), &no_token, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("WASMGATE_CLUSTER_TOKEN"), "{error}");
    no_token.insert(
        "WASMGATE_CLUSTER_TOKEN".into(),
        "cluster-token-0123456789abcdefghijklmn".into(),
    );
    let s = load_with(Some(&redis), &no_token, Overrides::default()).unwrap();
    assert!(s.cluster.token.is_some());
    assert!(
        !format!("{s:?}").contains("cluster-token-0123456789"),
        "the cluster token never shows in Debug"
    );
}

#[test]
fn node_key_and_trusted_nodes_come_from_the_file_or_the_environment() {
    let key = "gIbXBb0c8092uDzPIhYYt7pyBKZNDQwqEsrtAKwQHl8";
    let file = TempFile::new(
        "cluster-nodes",
        &format!("[cluster]\nnode_key = \"file.pem\"\ntrusted_nodes = [\"{key}\"]\n"),
    );
    let s = load_with(Some(&file), &env(&[]), Overrides::default()).unwrap();
    assert_eq!(s.cluster.node_key.as_deref(), Some(Path::new("file.pem")));
    assert_eq!(s.cluster.trusted_nodes, vec![key.to_owned()]);
    let other = "a55qvEYZwlMPAhacIFAGFAcYakNe5mRuvNE0Heyy3fQ";
    let vars = env(&[
        ("WASMGATE_NODE_KEY", "env.pem"),
        ("WASMGATE_TRUSTED_NODES", &format!("{key}, {other},")),
    ]);
    let s = load_with(Some(&file), &vars, Overrides::default()).unwrap();
    assert_eq!(s.cluster.node_key.as_deref(), Some(Path::new("env.pem")));
    assert_eq!(
        s.cluster.trusted_nodes,
        vec![key.to_owned(), other.to_owned()]
    );
    let bad = env(&[("WASMGATE_TRUSTED_NODES", "not-a-key")]);
    let error = load_with(None, &bad, Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(error.contains("cluster.trusted_nodes"), "{error}");
}
