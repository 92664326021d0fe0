//! Every manifest in `deploy/kubernetes` reads into its Kubernetes API type with nothing left
//! over, and the pieces fit together: names, selectors, ports, probes, the grace period against
//! the gateway's drain, the node id, the settings, and what the autoscaler scales.

mod common;
mod manifests;

use common::{cluster_hosts, drain_and_grace, read, repo_path, usable_as_token};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manifests::{
    DIR, MANIFESTS, first_pod, gateway, http_port, kustomization, kustomization_resources,
    label_selector_selects_pods, node_settings, pod_spec, selects_pods, statefulset,
    statefulset_name, typed,
};
use std::collections::BTreeSet;
use std::path::Path;

/// Manifests kept out of kustomization.yaml on purpose, each with the reason.
const LEFT_OUT: [(&str, &str); 3] = [
    ("secret.example.yaml", "the real Secret is created by hand"),
    ("podmonitor.yaml", "it needs prometheus-operator's CRDs"),
    (
        "keda-scaledobject.yaml",
        "it replaces hpa.yaml where KEDA runs",
    ),
];

/// The gauge both autoscalers scale on: how many nodes the current load needs.
const NODES_NEEDED: &str = "wasmgate_cluster_nodes_needed";

#[test]
fn every_manifest_reads_into_its_api_type_with_no_field_left_over() {
    let m = &*MANIFESTS;
    assert_eq!(m.statefulsets.len(), 1);
    assert_eq!(
        m.services.len(),
        2,
        "a client Service and a headless peer Service"
    );
    assert_eq!(m.budgets.len(), 1);
    assert_eq!(m.autoscalers.len(), 1);
    assert_eq!(m.config_maps.len(), 1);
    assert_eq!(m.secrets.len(), 1);
    assert_eq!(m.scaled_objects.len(), 1);
    assert_eq!(m.pod_monitors.len(), 1);
}

#[test]
fn the_statefulset_is_governed_by_a_headless_service_that_publishes_unready_pods() {
    let governing = statefulset()
        .spec
        .as_ref()
        .and_then(|spec| spec.service_name.as_deref())
        .expect("the StatefulSet names its governing Service");
    let service = MANIFESTS
        .services
        .iter()
        .find(|svc| svc.metadata.name.as_deref() == Some(governing))
        .unwrap_or_else(|| panic!("no Service {governing}, the StatefulSet's serviceName"));
    let spec = service.spec.as_ref().expect("the Service has a spec");
    assert_eq!(
        spec.cluster_ip.as_deref(),
        Some("None"),
        "{governing} is headless"
    );
    assert_eq!(
        spec.publish_not_ready_addresses,
        Some(true),
        "{governing} must give a node its DNS name before it is ready and while it drains"
    );
}

#[test]
fn every_service_budget_and_spread_constraint_selects_the_gateway_pods() {
    let spec = statefulset().spec.as_ref().expect("a spec");
    label_selector_selects_pods("StatefulSet selector", Some(&spec.selector));
    for service in &MANIFESTS.services {
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let selector = service
            .spec
            .as_ref()
            .and_then(|spec| spec.selector.clone())
            .unwrap_or_default();
        assert!(
            selects_pods(&selector),
            "Service {name}: {selector:?} does not select the pods"
        );
    }
    for budget in &MANIFESTS.budgets {
        let spec = budget.spec.as_ref().expect("the budget has a spec");
        label_selector_selects_pods("PodDisruptionBudget", spec.selector.as_ref());
        assert_eq!(
            spec.max_unavailable,
            Some(IntOrString::Int(1)),
            "nodes leave one at a time"
        );
    }
    for constraint in pod_spec().topology_spread_constraints.iter().flatten() {
        let origin = format!("topology spread over {}", constraint.topology_key);
        label_selector_selects_pods(&origin, constraint.label_selector.as_ref());
    }
}

#[test]
fn services_reach_the_gateway_on_its_http_port() {
    let port = http_port();
    for service in &MANIFESTS.services {
        let name = service.metadata.name.as_deref().unwrap_or_default();
        let ports = service
            .spec
            .as_ref()
            .and_then(|spec| spec.ports.clone())
            .unwrap_or_default();
        assert!(!ports.is_empty(), "Service {name} has ports");
        for service_port in ports {
            match service_port.target_port {
                Some(IntOrString::String(named)) => {
                    assert_eq!(named, "http", "Service {name} targets the port named http")
                }
                Some(IntOrString::Int(number)) => assert_eq!(number, port, "Service {name}"),
                None => assert_eq!(service_port.port, port, "Service {name}"),
            }
        }
    }
    let listen = node_settings().listen;
    assert_eq!(
        listen.port(),
        u16::try_from(port).expect("a port number"),
        "the gateway listens ({listen}) on its container port"
    );
}

#[test]
fn a_node_outlives_its_drain_before_it_is_killed() {
    let needed = drain_and_grace(&node_settings());
    let grace = pod_spec()
        .termination_grace_period_seconds
        .expect("terminationGracePeriodSeconds is set");
    assert!(
        u64::try_from(grace).is_ok_and(|grace| grace > needed.as_secs()),
        "terminationGracePeriodSeconds ({grace}) must exceed drain_delay + shutdown_grace \
         ({needed:?}), or nodes are killed with calls in flight"
    );
}

#[test]
fn the_gateway_runs_unprivileged_on_a_read_only_root() {
    let pod = pod_spec();
    let pod_security = pod
        .security_context
        .as_ref()
        .expect("a pod securityContext");
    assert_eq!(pod_security.run_as_non_root, Some(true));
    assert!(
        pod_security.run_as_user.is_some_and(|uid| uid != 0),
        "a non-zero runAsUser"
    );
    let seccomp = pod_security
        .seccomp_profile
        .as_ref()
        .map(|p| p.type_.as_str());
    assert_eq!(seccomp, Some("RuntimeDefault"));
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(
        pod.enable_service_links,
        Some(false),
        "service links would put WASMGATE_* variables the gateway did not ask for in its environment"
    );
    let security = gateway()
        .security_context
        .as_ref()
        .expect("a container securityContext");
    assert_eq!(security.allow_privilege_escalation, Some(false));
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_ne!(security.privileged, Some(true));
    assert_ne!(security.run_as_user, Some(0));
    let dropped = security
        .capabilities
        .as_ref()
        .and_then(|caps| caps.drop.clone())
        .unwrap_or_default();
    assert_eq!(dropped, ["ALL"], "every capability is dropped");
}

#[test]
fn the_data_dir_is_a_directory_the_gateway_owns_on_a_scratch_volume() {
    let settings = node_settings();
    let data_dir = settings.data_dir.as_path();
    // The gateway narrows its data dir to mode 0700 at start, which only the directory's owner
    // may do; a volume's mount point belongs to root, so the data dir is one level below it.
    let mount = gateway()
        .volume_mounts
        .iter()
        .flatten()
        .find(|mount| data_dir.parent() == Some(Path::new(&mount.mount_path)))
        .unwrap_or_else(|| {
            panic!(
                "{}: mount a volume at its parent, on a read-only root",
                data_dir.display()
            )
        });
    assert_ne!(
        mount.read_only,
        Some(true),
        "{} is written to",
        data_dir.display()
    );
    let volume = pod_spec()
        .volumes
        .iter()
        .flatten()
        .find(|volume| volume.name == mount.name)
        .expect("the data volume exists");
    assert!(
        volume.empty_dir.is_some(),
        "the data dir is on an emptyDir: a cache"
    );
}

#[test]
fn each_node_is_named_after_its_pod_and_advertises_its_peer_address() {
    let env = gateway().env.clone().unwrap_or_default();
    let position = |name: &str| env.iter().position(|var| var.name == name);
    let pod_name = position("POD_NAME").expect("POD_NAME is set");
    let field = env[pod_name]
        .value_from
        .as_ref()
        .and_then(|source| source.field_ref.as_ref())
        .map(|field| field.field_path.as_str());
    assert_eq!(
        field,
        Some("metadata.name"),
        "POD_NAME comes from the pod's name"
    );
    let node_id = position("WASMGATE_NODE_ID").expect("WASMGATE_NODE_ID is set");
    assert_eq!(env[node_id].value.as_deref(), Some("$(POD_NAME)"));
    let advertise = position("WASMGATE_ADVERTISE").expect("WASMGATE_ADVERTISE is set");
    // $(VAR) expands only to variables defined earlier in the list.
    assert!(
        pod_name < node_id && pod_name < advertise,
        "POD_NAME comes first"
    );
    let governing = statefulset()
        .spec
        .as_ref()
        .and_then(|spec| spec.service_name.as_deref())
        .expect("a serviceName");
    let expected = format!("http://$(POD_NAME).{governing}:{}", http_port());
    assert_eq!(env[advertise].value.as_deref(), Some(expected.as_str()));
}

#[test]
fn a_node_starts_on_these_settings_in_cluster_mode_with_shared_key_value() {
    let pod = first_pod();
    let settings = node_settings();
    let (nats, redis) = cluster_hosts("the ConfigMap's settings", &settings);
    assert!(!nats.is_empty() && !redis.is_empty());
    assert_eq!(settings.cluster.node_id.as_deref(), Some(pod.as_str()));
    let governing = statefulset()
        .spec
        .as_ref()
        .and_then(|spec| spec.service_name.as_deref())
        .expect("a serviceName");
    let advertise = format!("http://{pod}.{governing}:{}", http_port());
    assert_eq!(
        settings.cluster.advertise.as_deref(),
        Some(advertise.as_str())
    );
    assert!(
        settings.cluster.token.is_some(),
        "a cluster token of its own: one derived from the admin token changes when that rotates"
    );
}

#[test]
fn probes_ask_the_gateway_whether_it_is_ready_and_alive() {
    let probe_path = |probe: Option<&k8s_openapi::api::core::v1::Probe>, which: &str| {
        let get = probe
            .and_then(|probe| probe.http_get.as_ref())
            .unwrap_or_else(|| panic!("a {which} probe over HTTP"));
        assert_eq!(
            get.port,
            IntOrString::String("http".into()),
            "{which} probe port"
        );
        get.path.clone().unwrap_or_default()
    };
    let container = gateway();
    assert_eq!(
        probe_path(container.readiness_probe.as_ref(), "readiness"),
        "/readyz"
    );
    assert_eq!(
        probe_path(container.liveness_probe.as_ref(), "liveness"),
        "/healthz"
    );
    assert_eq!(
        probe_path(container.startup_probe.as_ref(), "startup"),
        "/healthz"
    );
}

#[test]
fn the_secret_example_has_every_key_the_pods_read_and_no_usable_token() {
    let secret = &MANIFESTS.secrets[0];
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    let keys = secret.string_data.clone().unwrap_or_default();
    let references: Vec<_> = gateway()
        .env
        .iter()
        .flatten()
        .filter_map(|var| var.value_from.as_ref()?.secret_key_ref.as_ref())
        .collect();
    assert!(!references.is_empty(), "the tokens come from the Secret");
    for reference in references {
        assert_eq!(reference.name, name, "the pods read the Secret {name}");
        assert!(
            keys.contains_key(&reference.key),
            "{name} has no key {}",
            reference.key
        );
    }
    for (key, value) in keys {
        assert!(
            !usable_as_token(&value),
            "{key} in the example must be a placeholder the gateway refuses (too short), \
             never a usable token"
        );
    }
}

#[test]
fn autoscalers_scale_the_statefulset_to_the_nodes_needed() {
    let target = statefulset_name();
    let hpa = &MANIFESTS.autoscalers[0];
    let spec = hpa.spec.as_ref().expect("the HPA has a spec");
    let reference = &spec.scale_target_ref;
    assert_eq!(
        (
            reference.api_version.as_deref(),
            reference.kind.as_str(),
            reference.name.as_str()
        ),
        (Some("apps/v1"), "StatefulSet", target)
    );
    assert!(
        spec.min_replicas.is_some_and(|min| min >= 2),
        "two nodes at least"
    );
    let metrics = spec.metrics.clone().unwrap_or_default();
    let external = metrics
        .iter()
        .find_map(|metric| metric.external.as_ref())
        .expect("an External metric");
    assert_eq!(external.metric.name, NODES_NEEDED);
    // AverageValue: replicas = metric / target. Value would multiply by the current count.
    assert_eq!(external.target.type_, "AverageValue");
    assert_eq!(
        external.target.average_value.as_ref().map(|q| q.0.as_str()),
        Some("1")
    );

    let keda = &MANIFESTS.scaled_objects[0];
    let reference = &keda["spec"]["scaleTargetRef"];
    assert_eq!(reference["apiVersion"], "apps/v1");
    assert_eq!(reference["kind"], "StatefulSet");
    assert_eq!(reference["name"], target);
    assert!(
        keda["spec"]["minReplicaCount"]
            .as_i64()
            .is_some_and(|min| min >= 2)
    );
    let triggers = keda["spec"]["triggers"].as_array().expect("KEDA triggers");
    assert_eq!(triggers.len(), 1, "one trigger: the nodes needed");
    let trigger = &triggers[0];
    assert_eq!(trigger["type"], "prometheus");
    assert_eq!(trigger["metricType"], "AverageValue");
    assert_eq!(trigger["metadata"]["threshold"], "1");
    let query = trigger["metadata"]["query"].as_str().unwrap_or_default();
    assert!(
        query.starts_with("max(") && query.contains(NODES_NEEDED),
        "one series, the same on every node: {query}"
    );

    let replicas = statefulset().spec.as_ref().and_then(|spec| spec.replicas);
    assert_eq!(replicas, None, "the autoscaler owns the replica count");
}

#[test]
fn the_pod_monitor_scrapes_every_node_with_the_metrics_token() {
    let monitor = &MANIFESTS.pod_monitors[0];
    let selector: LabelSelector = typed("PodMonitor selector", &monitor["spec"]["selector"]);
    label_selector_selects_pods("PodMonitor", Some(&selector));
    let endpoints = monitor["spec"]["podMetricsEndpoints"]
        .as_array()
        .expect("endpoints");
    assert_eq!(endpoints.len(), 1);
    let endpoint = &endpoints[0];
    assert_eq!(endpoint["port"], "http");
    assert_eq!(endpoint["path"], "/metrics");
    let credentials = &endpoint["authorization"]["credentials"];
    let secret = MANIFESTS.secrets[0]
        .metadata
        .name
        .as_deref()
        .unwrap_or_default();
    assert_eq!(credentials["name"], secret);
    assert_eq!(credentials["key"], "metrics-token");
}

#[test]
fn the_kustomization_applies_every_manifest_but_the_optional_ones() {
    let listed: BTreeSet<&str> = kustomization_resources().into_iter().collect();
    let left_out: BTreeSet<&str> = LEFT_OUT.iter().map(|(file, _)| *file).collect();
    let namespace = kustomization()["namespace"].as_str().expect("a namespace");
    for (file, namespaces) in &MANIFESTS.namespaces {
        if file == "kustomization.yaml" {
            continue;
        }
        let optional = left_out.contains(file.as_str());
        assert!(
            listed.contains(file.as_str()) != optional,
            "{file} must be listed in kustomization.yaml, or left out on purpose in LEFT_OUT"
        );
        if optional {
            // Applied with kubectl apply -f, where no kustomization sets the namespace.
            for named in namespaces {
                assert_eq!(
                    named.as_deref(),
                    Some(namespace),
                    "{file} names its namespace"
                );
            }
        }
    }
    for file in &listed {
        assert!(
            repo_path(DIR).join(file).is_file(),
            "kustomization.yaml lists {file}, absent"
        );
    }
    let autoscalers = ["hpa.yaml", "keda-scaledobject.yaml"];
    let applied = autoscalers
        .iter()
        .filter(|file| listed.contains(*file))
        .count();
    assert_eq!(applied, 1, "exactly one autoscaler for the StatefulSet");

    let image = gateway()
        .image
        .as_deref()
        .expect("the container names its image");
    let image_name = image.split(':').next().unwrap_or(image);
    let images = kustomization()["images"]
        .as_array()
        .expect("kustomization.yaml sets images");
    assert!(
        images.iter().any(|entry| entry["name"] == image_name),
        "kustomization.yaml's `images` renames {image_name}, the StatefulSet's image"
    );
}

#[test]
fn the_readme_explains_every_manifest() {
    let readme = read(&repo_path(DIR).join("README.md"));
    for file in MANIFESTS.namespaces.keys() {
        assert!(
            readme.contains(file.as_str()),
            "README.md does not mention {file}"
        );
    }
}
