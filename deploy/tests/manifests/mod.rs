//! The manifests in `deploy/kubernetes`, each read into its Kubernetes API type, and the parts
//! of them the tests look at.

use crate::common::{load_settings, repo_path, stand_in_token, yaml_documents};
use k8s_openapi::Resource;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::autoscaling::v2::{HorizontalPodAutoscaler, HorizontalPodAutoscalerBehavior};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, Secret, Service};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::LazyLock;
use wasmgate_config::Settings;

/// Where the manifests are, from the repository root.
pub const DIR: &str = "deploy/kubernetes";

/// The manifests, read once, each in its API type; custom resources (no type in k8s-openapi)
/// as JSON.
#[derive(Default)]
pub struct Manifests {
    pub statefulsets: Vec<StatefulSet>,
    pub services: Vec<Service>,
    pub budgets: Vec<PodDisruptionBudget>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub config_maps: Vec<ConfigMap>,
    pub secrets: Vec<Secret>,
    pub scaled_objects: Vec<Value>,
    pub pod_monitors: Vec<Value>,
    pub kustomization: Option<Value>,
    /// File name → the namespace each of its objects names (None: none named).
    pub namespaces: BTreeMap<String, Vec<Option<String>>>,
}

pub static MANIFESTS: LazyLock<Manifests> = LazyLock::new(load);

fn load() -> Manifests {
    let dir = repo_path(DIR);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|ext| ext == "yaml" || ext == "yml")
        })
        .collect();
    files.sort();
    let mut m = Manifests::default();
    for path in &files {
        let file = file_name(path);
        for doc in yaml_documents(path) {
            let api_version = doc["apiVersion"].as_str().unwrap_or_default();
            let kind = doc["kind"].as_str().unwrap_or_default();
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            let origin = format!("{file}: {kind} {name}");
            let namespace = doc["metadata"]["namespace"].as_str().map(str::to_owned);
            m.namespaces
                .entry(file.clone())
                .or_default()
                .push(namespace);
            if is::<StatefulSet>(api_version, kind) {
                m.statefulsets.push(typed(&origin, &doc));
            } else if is::<Service>(api_version, kind) {
                m.services.push(typed(&origin, &doc));
            } else if is::<PodDisruptionBudget>(api_version, kind) {
                m.budgets.push(typed(&origin, &doc));
            } else if is::<HorizontalPodAutoscaler>(api_version, kind) {
                m.autoscalers.push(typed(&origin, &doc));
            } else if is::<ConfigMap>(api_version, kind) {
                m.config_maps.push(typed(&origin, &doc));
            } else if is::<Secret>(api_version, kind) {
                m.secrets.push(typed(&origin, &doc));
            } else if (api_version, kind) == ("keda.sh/v1alpha1", "ScaledObject") {
                m.scaled_objects.push(scaled_object(&origin, doc));
            } else if (api_version, kind) == ("monitoring.coreos.com/v1", "PodMonitor") {
                m.pod_monitors.push(pod_monitor(&origin, doc));
            } else if (api_version, kind) == ("kustomize.config.k8s.io/v1beta1", "Kustomization") {
                assert!(
                    m.kustomization.is_none(),
                    "{origin}: a second Kustomization"
                );
                m.kustomization = Some(doc);
            } else {
                panic!(
                    "{origin}: {api_version} {kind} is not a kind these tests know; add it to \
                     `load` with its API type, so that it is checked too"
                );
            }
        }
    }
    m
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .expect("a file")
        .to_string_lossy()
        .into_owned()
}

fn is<T: Resource>(api_version: &str, kind: &str) -> bool {
    api_version == T::API_VERSION && kind == T::KIND
}

/// Reads `doc` into `T` and fails on any field `T` does not have. k8s-openapi skips unknown
/// fields without a word, so the object is written back and compared with what was read: a
/// misspelt or misplaced field, or a value of another type, shows up as a difference.
pub fn typed<T: DeserializeOwned + Serialize>(origin: &str, doc: &Value) -> T {
    let value: T = serde_json::from_value(doc.clone())
        .unwrap_or_else(|e| panic!("{origin} does not read as its API type: {e}"));
    let written = serde_json::to_value(&value).expect("k8s-openapi types serialize");
    if let Some(path) = difference(doc, &written, String::new()) {
        panic!(
            "{origin}: `{path}` is not a field of the API type, or not a value it takes as \
             written"
        );
    }
    value
}

/// The first path where `read` and `written` differ, if any.
fn difference(read: &Value, written: &Value, path: String) -> Option<String> {
    match (read, written) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|key| {
                let at = format!("{path}.{key}");
                match (a.get(key), b.get(key)) {
                    (Some(x), Some(y)) => difference(x, y, at),
                    _ => Some(at),
                }
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, format!("{path}[{i}]"))),
        _ if read == written => None,
        _ => Some(path),
    }
}

/// A KEDA ScaledObject has no type in k8s-openapi: its spec keys are checked against KEDA's
/// reference, and the HPA behavior it passes on against the HPA type.
fn scaled_object(origin: &str, doc: Value) -> Value {
    known_keys(
        origin,
        &doc["spec"],
        &[
            "scaleTargetRef",
            "pollingInterval",
            "cooldownPeriod",
            "initialCooldownPeriod",
            "idleReplicaCount",
            "minReplicaCount",
            "maxReplicaCount",
            "fallback",
            "advanced",
            "triggers",
        ],
    );
    let behavior = &doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"];
    if !behavior.is_null() {
        typed::<HorizontalPodAutoscalerBehavior>(&format!("{origin} (HPA behavior)"), behavior);
    }
    doc
}

/// A PodMonitor (prometheus-operator) has no type in k8s-openapi: its spec keys are checked
/// against the CRD's, and its selector against the LabelSelector type.
fn pod_monitor(origin: &str, doc: Value) -> Value {
    known_keys(
        origin,
        &doc["spec"],
        &[
            "selector",
            "namespaceSelector",
            "podMetricsEndpoints",
            "jobLabel",
            "podTargetLabels",
            "sampleLimit",
        ],
    );
    typed::<LabelSelector>(&format!("{origin} (selector)"), &doc["spec"]["selector"]);
    doc
}

fn known_keys(origin: &str, spec: &Value, known: &[&str]) {
    let spec = spec
        .as_object()
        .unwrap_or_else(|| panic!("{origin} has no spec"));
    for key in spec.keys() {
        assert!(
            known.contains(&key.as_str()),
            "{origin}: unknown spec.{key}"
        );
    }
}

pub fn statefulset() -> &'static StatefulSet {
    let all = &MANIFESTS.statefulsets;
    assert_eq!(all.len(), 1, "one StatefulSet runs the gateway");
    &all[0]
}

pub fn statefulset_name() -> &'static str {
    statefulset()
        .metadata
        .name
        .as_deref()
        .expect("the StatefulSet has a name")
}

pub fn pod_spec() -> &'static PodSpec {
    statefulset()
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .expect("the StatefulSet has a pod template")
}

fn pod_labels() -> &'static BTreeMap<String, String> {
    statefulset()
        .spec
        .as_ref()
        .and_then(|spec| spec.template.metadata.as_ref())
        .and_then(|meta| meta.labels.as_ref())
        .expect("the pod template has labels")
}

pub fn gateway() -> &'static Container {
    let containers = &pod_spec().containers;
    assert_eq!(containers.len(), 1, "the pod runs the gateway alone");
    &containers[0]
}

/// The container port named `http`, on which the gateway serves everything.
pub fn http_port() -> i32 {
    gateway()
        .ports
        .iter()
        .flatten()
        .find(|port| port.name.as_deref() == Some("http"))
        .expect("the gateway has a container port named http")
        .container_port
}

/// Whether `selector` picks the gateway pods: not empty, and every label in it on the pods.
pub fn selects_pods(selector: &BTreeMap<String, String>) -> bool {
    let labels = pod_labels();
    !selector.is_empty()
        && selector
            .iter()
            .all(|(key, value)| labels.get(key) == Some(value))
}

pub fn label_selector_selects_pods(origin: &str, selector: Option<&LabelSelector>) {
    let selector = selector.unwrap_or_else(|| panic!("{origin} has no selector"));
    assert!(
        selector.match_expressions.is_none(),
        "{origin}: use matchLabels only, so this test can compare them with the pod labels"
    );
    let labels = selector.match_labels.clone().unwrap_or_default();
    assert!(
        selects_pods(&labels),
        "{origin}: {labels:?} does not select the gateway pods"
    );
}

/// The settings text the gateway is started with: `--config PATH`, where PATH is a key of the
/// ConfigMap mounted read-only at PATH's directory.
fn settings_text() -> &'static str {
    let args = gateway().args.as_deref().unwrap_or_default();
    let at = args
        .iter()
        .position(|arg| arg == "--config")
        .expect("the gateway is started with --config FILE");
    let path = Path::new(args.get(at + 1).expect("--config is followed by a path"));
    let dir = path.parent().and_then(Path::to_str).expect("a directory");
    let key = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name");
    let mount = gateway()
        .volume_mounts
        .iter()
        .flatten()
        .find(|mount| mount.mount_path == dir)
        .unwrap_or_else(|| panic!("nothing is mounted at {dir}, where --config points"));
    assert_eq!(
        mount.read_only,
        Some(true),
        "the settings are mounted read-only"
    );
    let volume = pod_spec()
        .volumes
        .iter()
        .flatten()
        .find(|volume| volume.name == mount.name)
        .unwrap_or_else(|| panic!("no volume {}", mount.name));
    let config_map = volume
        .config_map
        .as_ref()
        .map(|source| source.name.as_str())
        .unwrap_or_else(|| panic!("volume {} is not a ConfigMap", volume.name));
    MANIFESTS
        .config_maps
        .iter()
        .find(|cm| cm.metadata.name.as_deref() == Some(config_map))
        .and_then(|cm| cm.data.as_ref())
        .and_then(|data| data.get(key))
        .unwrap_or_else(|| panic!("ConfigMap {config_map} has no key {key}"))
}

/// The name of the StatefulSet's first pod, the node the settings are loaded for.
pub fn first_pod() -> String {
    format!("{}-0", statefulset_name())
}

/// The `WASMGATE_*` environment the gateway container of `pod` gets: `$(POD_NAME)` expanded,
/// the pod's name from the downward API, and stand-ins for the Secret's tokens.
fn pod_environment(pod: &str) -> BTreeMap<String, String> {
    let mut env = BTreeMap::new();
    for var in gateway().env.iter().flatten() {
        if !var.name.starts_with("WASMGATE_") {
            continue;
        }
        let value = if let Some(value) = &var.value {
            let value = value.replace("$(POD_NAME)", pod);
            assert!(
                !value.contains("$("),
                "{}: only $(POD_NAME) is expanded here",
                var.name
            );
            value
        } else {
            let source = var.value_from.as_ref().expect("a value or a source");
            if source.secret_key_ref.is_some() {
                stand_in_token()
            } else {
                panic!("{}: take it from the Secret or write it out", var.name)
            }
        };
        env.insert(var.name.clone(), value);
    }
    env
}

/// The settings the first node starts with, loaded by the gateway's own loader.
pub fn node_settings() -> Settings {
    load_settings(
        "the ConfigMap's settings",
        settings_text(),
        &pod_environment(&first_pod()),
    )
}

pub fn kustomization() -> &'static Value {
    MANIFESTS
        .kustomization
        .as_ref()
        .expect("kustomization.yaml is in deploy/kubernetes")
}

pub fn kustomization_resources() -> Vec<&'static str> {
    kustomization()["resources"]
        .as_array()
        .expect("kustomization.yaml lists resources")
        .iter()
        .map(|resource| resource.as_str().expect("a resource is a path"))
        .collect()
}
