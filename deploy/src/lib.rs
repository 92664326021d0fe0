//! Checks for the files that run wasmgate as a cluster: the Kubernetes manifests in
//! `deploy/kubernetes/` and the docker compose demo in `docker/`.
//!
//! The crate has no code of its own. Its tests read every manifest into the Kubernetes API types
//! (`tests/kubernetes.rs`) and the compose file as YAML (`tests/compose.rs`), and check what
//! holds the pieces together: names, selectors, ports, probes, grace periods against the
//! gateway's drain settings, and what the autoscaler targets. `cargo test -p wasmgate-deploy`
//! runs them; no cluster and no Docker engine are needed.
