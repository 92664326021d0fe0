//! The docker compose demo in `docker/` holds together: three gateways with their own node ids
//! and addresses, NATS with JetStream, Redis, a balancer that takes turns over all three, and
//! stop grace periods longer than the gateways' drain.

mod common;

use common::{
    STAND_IN_ISSUER, cluster_hosts, drain_and_grace, duration, load_settings, read, repo_path,
    stand_in_token, usable_as_token, yaml_documents,
};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;
use wasmgate_config::Settings;

const COMPOSE: &str = "docker/compose.yaml";
const HAPROXY: &str = "docker/haproxy.cfg";
const ENV_EXAMPLE: &str = "docker/.env.example";
const DOCKERFILE: &str = "docker/Dockerfile";

static COMPOSE_FILE: LazyLock<Value> = LazyLock::new(|| {
    let mut documents = yaml_documents(&repo_path(COMPOSE));
    assert_eq!(documents.len(), 1, "{COMPOSE} is one YAML document");
    documents.remove(0)
});

fn services() -> &'static Map<String, Value> {
    COMPOSE_FILE["services"]
        .as_object()
        .expect("compose.yaml has services")
}

fn environment(name: &str, service: &'static Value) -> &'static Map<String, Value> {
    service["environment"]
        .as_object()
        .unwrap_or_else(|| panic!("{name}: write `environment` as a mapping"))
}

/// The gateway services: those given a node id.
fn gateways() -> Vec<(&'static str, &'static Value)> {
    services()
        .iter()
        .filter(|(_, service)| {
            service["environment"]
                .as_object()
                .is_some_and(|env| env.contains_key("WASMGATE_NODE_ID"))
        })
        .map(|(name, service)| (name.as_str(), service))
        .collect()
}

/// A list of strings in the compose file (`command`, `volumes`, `ports`).
fn string_list(origin: &str, value: &'static Value) -> Vec<&'static str> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("{origin} is a list"))
        .iter()
        .map(|item| {
            item.as_str()
                .unwrap_or_else(|| panic!("{origin}: write each entry as a string"))
        })
        .collect()
}

/// The `WASMGATE_*` variables the image sets (`ENV` in the Dockerfile).
fn image_environment() -> BTreeMap<String, String> {
    let dockerfile = read(&repo_path(DOCKERFILE)).replace("\\\n", " ");
    dockerfile
        .lines()
        .filter_map(|line| line.trim().strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|word| word.split_once('='))
        .filter(|(key, _)| key.starts_with("WASMGATE_"))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The `WASMGATE_*` environment a gateway service runs with: the image's, then the service's,
/// with stand-ins for what `.env` supplies.
fn gateway_environment(name: &str, service: &'static Value) -> BTreeMap<String, String> {
    let mut env = image_environment();
    for (key, value) in environment(name, service) {
        let value = value.as_str().expect("a string");
        let value = if !value.starts_with("${") {
            value.to_owned()
        } else if key == "WASMGATE_TRUSTED_ISSUERS" {
            STAND_IN_ISSUER.to_owned()
        } else {
            stand_in_token()
        };
        env.insert(key.clone(), value);
    }
    env
}

/// The settings file a gateway is started with: `--config PATH`, with a file of the project
/// mounted at PATH. Returns the file's path relative to `docker/`.
fn settings_file(name: &str, service: &'static Value) -> String {
    let command = string_list(&format!("{name}.command"), &service["command"]);
    let at = command
        .iter()
        .position(|arg| *arg == "--config")
        .unwrap_or_else(|| panic!("{name} is started with --config FILE"));
    let path = command.get(at + 1).expect("--config is followed by a path");
    string_list(&format!("{name}.volumes"), &service["volumes"])
        .into_iter()
        .find_map(|volume| {
            let mut parts = volume.split(':');
            let (source, target) = (parts.next()?, parts.next()?);
            (target == *path).then(|| source.trim_start_matches("./").to_owned())
        })
        .unwrap_or_else(|| panic!("{name}: nothing is mounted at {path}, where --config points"))
}

/// The settings a gateway service starts with, loaded by the gateway's own loader; and the file
/// they come from.
fn gateway_settings(name: &str, service: &'static Value) -> (String, Settings) {
    let file = format!("docker/{}", settings_file(name, service));
    let env = gateway_environment(name, service);
    let settings = load_settings(
        &format!("{file} for {name}"),
        &read(&repo_path(&file)),
        &env,
    );
    (file, settings)
}

/// The `backend` section of haproxy.cfg that the frontend on the published port uses.
struct Balancer {
    lines: Vec<String>,
}

impl Balancer {
    fn read() -> Self {
        let text = read(&repo_path(HAPROXY));
        let mut lines = Vec::new();
        let mut in_backend = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let keyword = line.split_whitespace().next().unwrap_or_default();
            if [
                "global",
                "defaults",
                "frontend",
                "backend",
                "listen",
                "resolvers",
            ]
            .contains(&keyword)
            {
                in_backend = keyword == "backend";
                continue;
            }
            if in_backend {
                lines.push(line.to_owned());
            }
        }
        assert!(!lines.is_empty(), "{HAPROXY} has a backend");
        Balancer { lines }
    }

    fn directive(&self, keyword: &str) -> Vec<Vec<&str>> {
        self.lines
            .iter()
            .map(|line| line.split_whitespace().collect::<Vec<_>>())
            .filter(|words| words.first() == Some(&keyword))
            .collect()
    }

    /// The value after `option` on the `default-server` line.
    fn default_server(&self, option: &str) -> Option<&str> {
        self.directive("default-server")
            .into_iter()
            .find_map(|words| {
                let at = words.iter().position(|word| *word == option)?;
                words.get(at + 1).copied()
            })
    }
}

#[test]
fn three_gateways_have_their_own_node_ids_and_advertise_their_compose_names() {
    let gateways = gateways();
    assert_eq!(gateways.len(), 3, "three gateways: {gateways:?}");
    let mut ids = BTreeSet::new();
    let mut urls = BTreeSet::new();
    for (name, service) in gateways {
        let (_, settings) = gateway_settings(name, service);
        let id = settings.cluster.node_id.clone().expect("a node id");
        let url = settings
            .cluster
            .advertise
            .clone()
            .unwrap_or_else(|| panic!("{name} sets WASMGATE_ADVERTISE"));
        // Peers reach a gateway by its service name on the compose network, at its listener.
        let expected = format!("http://{name}:{}", settings.listen.port());
        assert_eq!(url, expected, "{name} advertises where its peers reach it");
        assert!(ids.insert(id.clone()), "node id {id} is used twice");
        assert!(urls.insert(url.clone()), "{url} is advertised twice");
    }
}

#[test]
fn nats_runs_with_jetstream_and_keeps_its_store_on_a_volume() {
    for (name, service) in gateways() {
        let (file, settings) = gateway_settings(name, service);
        let (nats, redis) = cluster_hosts(&file, &settings);
        let nats_service = &services()
            .get(&nats)
            .unwrap_or_else(|| panic!("{file}: no compose service {nats}"));
        let command = string_list(&format!("{nats}.command"), &nats_service["command"]);
        assert!(
            command
                .iter()
                .any(|arg| *arg == "-js" || *arg == "--jetstream"),
            "{nats} must run with JetStream (-js): {command:?}"
        );
        let store = command
            .iter()
            .position(|arg| *arg == "-sd" || *arg == "--store_dir")
            .and_then(|at| command.get(at + 1))
            .unwrap_or_else(|| panic!("{nats} names its JetStream store (-sd DIR)"));
        let volumes = string_list(&format!("{nats}.volumes"), &nats_service["volumes"]);
        assert!(
            volumes
                .iter()
                .any(|volume| volume.split(':').nth(1) == Some(*store)),
            "{nats}: the JetStream store {store} is on a volume"
        );
        let redis_service = &services()
            .get(&redis)
            .unwrap_or_else(|| panic!("{file}: no compose service {redis}"));
        let image = redis_service["image"].as_str().unwrap_or_default();
        assert!(image.starts_with("redis:"), "{redis} runs Redis: {image}");
        for dependency in [&nats, &redis] {
            assert!(
                service["depends_on"].get(dependency).is_some(),
                "{name} waits for {dependency}"
            );
        }
    }
}

#[test]
fn the_balancer_takes_turns_over_all_three_gateways_when_ready() {
    let balancer = Balancer::read();
    let servers: BTreeSet<String> = balancer
        .directive("server")
        .into_iter()
        .map(|words| words.get(2).expect("server NAME HOST:PORT").to_string())
        .collect();
    let expected: BTreeSet<String> = gateways()
        .into_iter()
        .map(|(name, service)| {
            format!("{name}:{}", gateway_settings(name, service).1.listen.port())
        })
        .collect();
    assert_eq!(
        servers, expected,
        "{HAPROXY} sends requests to each gateway and nothing else"
    );
    assert_eq!(balancer.directive("balance"), [["balance", "roundrobin"]]);
    let check = balancer.directive("http-check");
    assert!(
        check
            .iter()
            .any(|words| words.windows(2).any(|w| w == ["uri", "/readyz"])),
        "{HAPROXY} checks /readyz, which answers 503 while a gateway starts or drains"
    );
    assert!(
        balancer
            .directive("default-server")
            .iter()
            .any(|words| words.contains(&"check")),
        "{HAPROXY} health-checks every server (`default-server check`)"
    );

    // A draining gateway must be out of the turn before it stops taking requests.
    let inter = duration(
        HAPROXY,
        balancer
            .default_server("inter")
            .expect("inter on default-server"),
    );
    let fall: u32 = balancer
        .default_server("fall")
        .expect("fall on default-server")
        .parse()
        .expect("fall is a count");
    for (name, service) in gateways() {
        let drain = gateway_settings(name, service).1.cluster.drain_delay.get();
        assert!(
            inter * fall < drain,
            "{HAPROXY} notices a draining gateway after inter x fall = {:?}, not within \
             {name}'s drain_delay ({drain:?})",
            inter * fall
        );
    }

    let lb = services()
        .values()
        .find(|service| {
            service["image"]
                .as_str()
                .is_some_and(|i| i.starts_with("haproxy:"))
        })
        .expect("a service runs HAProxy");
    let volumes = string_list("the balancer's volumes", &lb["volumes"]);
    assert!(
        volumes
            .iter()
            .any(|volume| volume.starts_with("./haproxy.cfg:")),
        "the balancer reads {HAPROXY}"
    );
}

#[test]
fn a_gateway_outlives_its_drain_before_docker_kills_it() {
    for (name, service) in gateways() {
        let needed = drain_and_grace(&gateway_settings(name, service).1);
        let stop = service["stop_grace_period"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} sets stop_grace_period (Docker's default is 10 s)"));
        assert!(
            duration(COMPOSE, stop) > needed,
            "{name}: stop_grace_period ({stop}) must exceed drain_delay + shutdown_grace \
             ({needed:?}), or Docker kills it with calls in flight"
        );
    }
}

#[test]
fn secrets_come_from_the_env_file_whose_example_lists_each_with_a_placeholder() {
    let example = read(&repo_path(ENV_EXAMPLE));
    let documented: Vec<(&str, &str)> = example
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .collect();
    for (name, service) in gateways() {
        for (key, value) in environment(name, service) {
            if !(key.contains("TOKEN") || key == "WASMGATE_TRUSTED_ISSUERS") {
                continue;
            }
            let value = value.as_str().expect("a string");
            let variable = value
                .strip_prefix("${")
                .and_then(|rest| rest.split([':', '}']).next())
                .unwrap_or_else(|| {
                    panic!("{name}: {key} must come from the environment, not {value}")
                });
            assert!(
                value.contains(":?"),
                "{name}: {key} is required (`${{{variable}:?...}}`), so a missing .env is an error"
            );
            let placeholder = documented
                .iter()
                .find(|(documented, _)| *documented == variable)
                .map(|(_, placeholder)| *placeholder)
                .unwrap_or_else(|| panic!("{ENV_EXAMPLE} does not list {variable}"));
            assert!(
                !usable_as_token(placeholder),
                "{ENV_EXAMPLE}: {variable} must be a placeholder the gateway refuses"
            );
        }
    }
}

#[test]
fn published_ports_listen_on_loopback_only() {
    for (name, service) in services() {
        let Some(ports) = service.get("ports") else {
            continue;
        };
        for port in string_list(&format!("{name}.ports"), ports) {
            assert!(
                port.starts_with("127.0.0.1:"),
                "{name} publishes {port} beyond this machine; the admin API is behind it"
            );
        }
    }
}
