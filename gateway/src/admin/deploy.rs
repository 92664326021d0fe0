//! `PUT /functions/{name}`: the deploy pipeline.
//!
//! Steps, each of which can refuse without side effects: name → body → manifest → limits →
//! claims (signature, issuer, hash, expiry, name, capabilities) → intent (validity bound,
//! audience, signed manifest, the issuer's names) → policy → owner and no downgrade → function
//! quota → precompile + store artifact → store the signed original → version number, route
//! check, owner, no downgrade and quotas again under the change lock → durable record (the new
//! version, kept and 100% live; versions past `versions.keep` pruned) → publish.
//! Only the last two change what is served, and a failure before them leaves the old version serving.
//! A version whose manifest has a `[health]` check runs it once before the change lock (see
//! [`crate::health_check`]): a failure refuses the deploy with nothing recorded.
//! With `?canary=N%`, or `[rollout] canary` when a version serves already, the durable record
//! keeps the new version beside the live ones at weight 0, and the deploy then gives it N% of
//! the traffic and starts judging it (see [`crate::canary`]).

use super::upload;
use crate::admission::{Admitted, Operation, PolicyInput, Source, check_downgrade, check_owner};
use crate::catalog::Deployed;
use crate::error::ApiError;
use crate::health_check::Stage;
use crate::incoming::Incoming;
use crate::registry::{KvLayout, Record};
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use crate::traffic::Weights;
use http::{Request, StatusCode};
use serde_json::json;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::RwLockReadGuard;
use tracing::Instrument;
use wasmgate_claims::Claims;
use wasmgate_config::{FunctionName, Manifest, WasiTarget};
use wasmgate_pool::Digest;

/// Deploys or replaces `name` from the request body.
pub async fn deploy(
    gw: &Arc<Gateway>,
    name: &str,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned());
    let canary = crate::canary::share_in(req.uri().query());
    let rest = canary.as_ref().ok().and_then(|(_, rest)| rest.clone());
    let switches = super::query::switches(rest.as_deref(), ["allow_downgrade"]);
    // The body is read (or discarded) before any refusal, so the client sees the error, not a reset.
    let upload = upload::read(
        req,
        gw.body_limits(gw.settings.max_module_size.bytes(), "max_module_size"),
    )
    .await;
    let (canary, _) = canary?;
    let [allow_downgrade] = switches?;
    let name = name?;
    if canary.is_some() {
        if gw.cluster.is_some() {
            return Err(ApiError::NotInCluster {
                operation: "a canary deploy",
            });
        }
        // A canary needs a version to compare with; checked again under the change lock.
        if gw.catalog.snapshot().function(name.as_str()).is_none() {
            return Err(no_previous_version(&name));
        }
    }
    let upload = match upload? {
        upload::Body::Upload(upload) => upload,
        upload::Body::Oci(source) => pull(gw, &name, source).await?,
    };
    deploy_upload(gw, name, upload, allow_downgrade, canary).await
}

/// Pulls the component a JSON deploy body names (see [`crate::oci::pull`]); the upload it makes.
async fn pull(
    gw: &Gateway,
    name: &FunctionName,
    source: upload::OciSource,
) -> Result<upload::Upload, ApiError> {
    let reference: crate::oci::OciReference = source.oci.parse()?;
    if let Some(pin) = &source.digest {
        let hex = pin.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(ApiError::BadRequest {
                reason: format!(
                    "digest {} is not sha256:HEX (64 lowercase hex digits): pin the component's digest as `wasmgate inspect` or `wasmgate push` prints it",
                    wasmgate_config::shown(pin)
                ),
            });
        }
    }
    let started = std::time::Instant::now();
    let pulled = gw
        .oci
        .pull(
            &reference,
            source.digest.as_deref(),
            gw.settings.max_module_size.bytes(),
        )
        .instrument(crate::telemetry::when_on(
            || tracing::info_span!("oci.pull", function = %name, oci.reference = %reference),
        ))
        .await;
    let outcome = match &pulled {
        Ok(_) => "pulled",
        Err(e) => e.classify().1,
    };
    gw.metrics.oci_pulls.with_label_values(&[outcome]).inc();
    let pulled = pulled?;
    tracing::info!(
        function = name.as_str(),
        reference = %reference,
        digest = %pulled.digest,
        manifest_digest = %pulled.manifest_digest,
        bytes = pulled.component.len(),
        took_ms = started.elapsed().as_secs_f64() * 1000.0,
        "pulled"
    );
    Ok(upload::Upload {
        module: pulled.component,
        manifest: source.manifest,
    })
}

/// The refusal of a canary for a function that serves no version yet.
fn no_previous_version(name: &FunctionName) -> ApiError {
    ApiError::NoPreviousVersion {
        name: name.as_str().to_owned(),
        live: 0,
    }
}

/// Deploys or replaces `name` from a body already read.
async fn deploy_upload(
    gw: &Arc<Gateway>,
    name: FunctionName,
    upload: upload::Upload,
    allow_downgrade: bool,
    canary: Option<u8>,
) -> Result<GatewayResponse, ApiError> {
    let manifest = match &upload.manifest {
        Some(text) => Manifest::from_toml(text)?,
        None => Manifest::default(),
    };
    // Resolving now refuses limits the node cannot honour, and routes that overlap each other,
    // before any compile work.
    manifest.resolve(&gw.settings.defaults, &gw.settings.pool)?;
    crate::routes::check_own(&manifest.http.routes)?;
    if gw.cluster.is_some() && manifest.rollout.canary.is_some() {
        return Err(ApiError::NotInCluster {
            operation: "a canary deploy ([rollout] canary in the manifest)",
        });
    }
    // The manifest's canary applies when a version serves; a first deploy goes live whole.
    let manifest_canary = manifest.rollout.canary.map(|share| share.percent());

    // In cluster mode: the revision this deploy replaces, compared-and-swapped at the end, so a
    // deploy of the same name on another node in between makes this one a 409, not a lost write.
    let expected = match &gw.cluster {
        Some(node) => Some(
            node.cluster
                .record(name.as_str())
                .await
                .map_err(crate::cluster::sync::api_error)?
                .map(|r| r.revision),
        ),
        None => None,
    };
    // Hashing and verifying touch every byte of the module: off the async threads.
    let module = Arc::new(upload.module);
    let admitted = admit(gw, &name, &module, upload.manifest.as_deref(), &manifest)
        .instrument(crate::telemetry::when_on(
            || tracing::info_span!("admission", function = %name),
        ))
        .await;
    gw.admission
        .count(Operation::Deploy, admitted.as_ref().map(|_| ()));
    let admitted = admitted?;
    let linked_denied = admitted.linked_denied.clone();
    // Checked before the compile for a quick answer (a full node spends none), and again under
    // the change lock below.
    succession(gw, &admitted.claims, allow_downgrade)?;
    crate::quotas::check_functions(gw, &gw.catalog.snapshot(), name.as_str())?;

    let gc = gw.artifact_gc.read().await;
    let artifact = match reusable(gw, &admitted) {
        Some(reused) => reused,
        None => {
            let pool = gw.pool.clone();
            let grants = admitted.grants;
            let module = module.clone();
            let compiled = blocking(move || pool.compile(&module, grants)).await??;
            Artifact {
                digest: compiled.artifact.to_string(),
                size: compiled.artifact_size,
                compile_ms: compiled.compile_time.as_secs_f64() * 1000.0,
                reused: false,
                adopted_from: None,
            }
        }
    };

    let original = match crate::originals::store(gw, &module).await {
        Ok(original) => original,
        Err(e) => return Err(abandon(gw, gc, &artifact, None, e).await),
    };
    if let Some(node) = &gw.cluster
        && let Err(e) = node
            .cluster
            .put_original(&original.to_string(), &module)
            .await
    {
        let e = crate::cluster::sync::api_error(e);
        return Err(abandon(gw, gc, &artifact, Some(original), e).await);
    }
    // Shared before the record, so peers that trust this node's key find it when they apply it;
    // only what this node compiled itself (trust in a node key is not passed on).
    if let Some(node) = &gw.cluster
        && artifact.adopted_from.is_none()
    {
        node.artifacts
            .publish(node, &gw.pool, &original.to_string(), &artifact.digest)
            .await;
    }

    let version = match gw.registry.next_version(name.as_str()) {
        Ok(version) => version,
        Err(e) => return Err(abandon(gw, gc, &artifact, Some(original), e).await),
    };
    let record = Record {
        name: name.as_str().to_owned(),
        version,
        digest: Digest::of(&module).to_string(),
        size: module.len() as u64,
        artifact: artifact.digest.clone(),
        artifact_size: artifact.size,
        compile_ms: artifact.compile_ms,
        deployed_at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
        manifest,
        kv_layout: kv_layout(gw, &admitted),
        claims: admitted.claims,
        token: admitted.token,
        original: Some(original.to_string()),
        engine: Some(gw.pool.engine_fingerprint().to_owned()),
        cluster_revision: None,
        adopted_from: artifact.adopted_from.clone(),
    };
    let mut record = record;
    let mut deployed = match gw.deployed(record.clone()) {
        Ok(deployed) => deployed,
        Err(e) => return Err(abandon(gw, gc, &artifact, Some(original), e).await),
    };
    // Before any lock: a check may take its whole timeout, and other deploys go on meanwhile.
    if let Err(e) = crate::health_check::gate(gw, &deployed, Stage::Deploy).await {
        deployed.function.unload().await;
        return Err(abandon(gw, gc, &artifact, Some(original), e).await);
    }
    // The entry the check warmed; rebuilt below if the version is renumbered or shared, and
    // then unloaded so its code does not wait for the keep-alive to leave memory.
    let warmed = deployed.clone();

    // In cluster mode records are applied one at a time, this deploy's among them.
    let applying = match &gw.cluster {
        Some(node) => Some(node.applying.lock().await),
        None => None,
    };
    let change = gw.catalog.lock().await;
    // Numbered under the lock: a deploy of the same name since the first count takes the next.
    let numbered = gw.registry.next_version(&record.name).and_then(|version| {
        if version != record.version {
            record.version = version;
            deployed = gw.deployed(record.clone())?;
        }
        Ok(())
    });
    let serving = gw.catalog.snapshot().function(name.as_str()).is_some();
    let asked = canary;
    let canary = canary.or(manifest_canary.filter(|_| serving));
    let checked = numbered
        .and_then(|()| match asked {
            Some(_) if !serving => Err(no_previous_version(&name)),
            _ => Ok(()),
        })
        .and_then(|()| succession(gw, &record.claims, allow_downgrade))
        .and_then(|()| gw.catalog.check(&deployed))
        .and_then(|()| crate::quotas::check_deploy(gw, &record));
    let shared = match (checked, &gw.cluster) {
        (Ok(()), Some(node)) => share(node, &record, expected.flatten()).await,
        (checked, _) => checked.map(|()| None),
    };
    let published = shared.and_then(|revision| {
        if revision.is_some() {
            record.cluster_revision = revision;
            deployed = gw.deployed(record.clone())?;
        }
        match canary {
            None => gw.registry.put(&record).map(|pruned| (pruned, None)),
            Some(_) => gw
                .registry
                .keep_beside(&record)
                .map(|(pruned, weights)| (pruned, Some(weights))),
        }
    });
    let (pruned, beside) = match published {
        Ok(published) => published,
        Err(e) => {
            drop(change);
            drop(applying);
            warmed.function.unload().await;
            return Err(abandon(gw, gc, &artifact, Some(original), e).await);
        }
    };
    if !Arc::ptr_eq(&warmed, &deployed) {
        warmed.function.unload().await;
    }
    if let (Some(share), Some(beside)) = (canary, beside) {
        drop(change);
        drop(applying);
        drop(gc);
        release(gw, &pruned).await;
        return start_canary(gw, &record, share, beside).await;
    }
    let old = gw.catalog.publish(&change, deployed.clone(), None)?;
    drop(change);
    drop(applying);
    drop(gc);

    for old in &old {
        retire(gw, old).await;
    }
    release(gw, &pruned).await;
    start(gw, &deployed);
    // In cluster mode a version this node had not applied yet was replaced all the same.
    let replaced = !old.is_empty() || expected.flatten().is_some();
    tracing::info!(function = %record.name, version = record.version, digest = %record.digest, issuer = %record.claims.iss, replaced, pruned = pruned.len(), "deployed");

    let wasi = wasi_target(&module);
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json(
        status,
        &json!({
            "name": record.name,
            "version": record.version,
            "digest": record.digest,
            "size": record.size,
            "compile_ms": record.compile_ms,
            "routes": deployed.routes(),
            "replaced": replaced,
            "artifact_reused": artifact.reused,
            "issuer": record.claims.iss,
            "owner": record.claims.iss,
            "caps": record.claims.wasmgate.caps,
            // Imported network interfaces without their grant: linked, every destination denied.
            "linked_denied": linked_denied,
            "wasi": wasi,
            // `passed` when the manifest's [health] check ran before the version took traffic.
            "health_check": record.manifest.health.target().map(|_| "passed"),
        }),
    ))
}

/// Gives the version just kept (`record`, live at weight 0 as `beside`) `share`% of the traffic
/// beside the primary version, and starts judging it (see [`crate::canary`]).
async fn start_canary(
    gw: &Arc<Gateway>,
    record: &Record,
    share: u8,
    beside: Weights,
) -> Result<GatewayResponse, ApiError> {
    let (name, new, old) = (&record.name, record.version, beside.primary());
    let split = Weights::try_from(std::collections::BTreeMap::from([
        (old, 100 - share),
        (new, share),
    ]))
    .map_err(|e| ApiError::Internal {
        reason: format!("canary weights of {name}: {e}"),
    })?;
    let started = super::set_traffic_if(gw, name, &beside, split.clone()).await?;
    if started {
        crate::canary::watch(gw, name, old, new, share, split);
    }
    tracing::info!(function = %name, version = new, digest = %record.digest, issuer = %record.claims.iss, share, started, "deployed as a canary");
    Ok(json(
        StatusCode::OK,
        &json!({
            "name": name,
            "version": new,
            "digest": record.digest,
            "size": record.size,
            "issuer": record.claims.iss,
            "replaced": false,
            "health_check": record.manifest.health.target().map(|_| "passed"),
            "canary": gw.canaries.status(name),
        }),
    ))
}

/// Writes `record` to the cluster's registry if the name is still at `expected` (compare-and-swap);
/// returns the new revision, or `409 concurrent_deploy` when another node changed it since.
async fn share(
    node: &crate::cluster::ClusterNode,
    record: &Record,
    expected: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    let bytes = crate::cluster::sync::shared_bytes(record)?;
    node.cluster
        .put_record(&record.name, bytes, expected)
        .await
        .map(Some)
        .map_err(crate::cluster::sync::api_error)
}

/// The WASI release `module` targets, for the deploy answer (`{"version": "0.3", "interface":
/// "wasi:http/handler@0.3.0"}`); `None` when nothing in it names one.
fn wasi_target(module: &[u8]) -> Option<WasiTarget> {
    let info = wasmgate_claims::component_info(module).ok()?;
    WasiTarget::detect(
        info.exports.iter().map(String::as_str),
        info.imports.iter().map(String::as_str),
    )
}

/// Refuses a deploy by an issuer that does not own the name, or of a build signed before the one
/// deployed (unless `allow_downgrade`).
fn succession(gw: &Gateway, claims: &Claims, allow_downgrade: bool) -> Result<(), ApiError> {
    let owner = gw.registry.owner(&claims.sub)?;
    check_owner(&claims.sub, &claims.iss, owner.as_deref())?;
    let snapshot = gw.catalog.snapshot();
    let deployed_iat = snapshot.function(&claims.sub).map(|d| d.record.claims.iat);
    check_downgrade(claims.iat, deployed_iat, allow_downgrade)
}

/// Where the new version's key-value data lives: where the version it replaces kept it when the
/// same issuer signed both (a function deployed before owners existed keeps its data), else in
/// the signer's own space.
fn kv_layout(gw: &Gateway, admitted: &Admitted) -> KvLayout {
    let snapshot = gw.catalog.snapshot();
    match snapshot.function(&admitted.claims.sub) {
        Some(old) if old.record.claims.iss == admitted.claims.iss => old.record.kv_layout,
        _ => KvLayout::Owner,
    }
}

/// The precompiled artifact a deploy serves.
struct Artifact {
    digest: String,
    size: u64,
    compile_ms: f64,
    reused: bool,
    /// The node key of a reused artifact this node adopted rather than compiled.
    adopted_from: Option<String>,
}

/// An artifact already compiled by this engine from the same code (same hash without the `jwt`
/// section) and checked against the same grants: the same component deployed under another name,
/// or re-signed, needs no second compile. Call with the artifact GC lock held, so the artifact stays.
fn reusable(gw: &Gateway, admitted: &Admitted) -> Option<Artifact> {
    let snapshot = gw.catalog.snapshot();
    let same = snapshot.sorted().into_iter().find(|d| {
        d.record.claims.wasmgate.hash == admitted.claims.wasmgate.hash
            && d.function.grants() == admitted.grants
            && d.record.engine.as_deref() == Some(gw.pool.engine_fingerprint())
            && crate::cluster::artifacts::still_trusted(gw, &d.record)
    })?;
    Some(Artifact {
        digest: same.record.artifact.clone(),
        size: same.record.artifact_size,
        compile_ms: 0.0,
        reused: true,
        adopted_from: same.record.adopted_from.clone(),
    })
}

/// Claims, then policy: everything that decides whether this component may be deployed.
async fn admit(
    gw: &Arc<Gateway>,
    name: &FunctionName,
    module: &Arc<bytes::Bytes>,
    manifest_sent: Option<&str>,
    manifest: &Manifest,
) -> Result<Admitted, ApiError> {
    let admitted = {
        let (gw, name, module) = (gw.clone(), name.clone(), module.clone());
        blocking(move || gw.admission.verify(&name, &module, SystemTime::now())).await??
    };
    gw.admission.check_intent(
        &admitted,
        manifest_sent.map(str::as_bytes),
        manifest,
        SystemTime::now(),
    )?;
    gw.admission
        .decide(&PolicyInput {
            operation: Operation::Deploy,
            function: name.as_str(),
            claims: &admitted.claims,
            token: &admitted.token,
            manifest,
            source: Source::AdminApi,
        })
        .await?;
    Ok(admitted)
}

/// Runs CPU-bound work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal {
            reason: format!("deploy task failed: {e}"),
        })
}

/// Gives up a deploy refused after its compile (a `[config]` variable that is not set, a route
/// another function serves, a failed registry write): the artifact and original it stored leave
/// the disk unless a deployed function uses them, so a refused deploy leaves nothing behind.
async fn abandon(
    gw: &Gateway,
    gc: RwLockReadGuard<'_, ()>,
    artifact: &Artifact,
    original: Option<Digest>,
    error: ApiError,
) -> ApiError {
    drop(gc);
    if !artifact.reused
        && let Some(digest) = Digest::parse(&artifact.digest)
    {
        remove_if_unused(gw, digest).await;
    }
    crate::originals::remove_if_unused(gw, original).await;
    error
}

/// Lets a version that no longer takes traffic (replaced, rolled back from, or deleted) go: its
/// code leaves memory once its in-flight calls end, and its artifact and original leave the disk
/// unless a live or kept version (of any function) uses the same ones.
pub async fn retire(gw: &Gateway, old: &Arc<Deployed>) {
    old.subscriptions.stop();
    old.function.unload().await;
    remove_if_unused(gw, old.function.artifact()).await;
    crate::originals::remove_if_unused(gw, crate::originals::recorded(&old.record.original)).await;
}

/// Releases the artifacts and originals of versions no longer kept (pruned or deleted), unless
/// a live or kept version uses the same ones.
pub async fn release(gw: &Gateway, records: &[Record]) {
    for record in records {
        if let Some(artifact) = Digest::parse(&record.artifact) {
            remove_if_unused(gw, artifact).await;
        }
        crate::originals::remove_if_unused(gw, crate::originals::recorded(&record.original)).await;
    }
}

/// Deletes `artifact` unless a live or kept version uses it. Takes the artifact lock
/// exclusively, so no deploy is between compiling the same artifact and publishing it.
async fn remove_if_unused(gw: &Gateway, artifact: Digest) {
    let _gc = gw.artifact_gc.write().await;
    let still_used = gw
        .catalog
        .snapshot()
        .all_live()
        .any(|d| d.function.artifact() == artifact)
        // A registry that cannot be read keeps the file: a leftover is collected at start.
        || gw.registry.keeps_blob(&artifact.to_string()).unwrap_or(true);
    if !still_used && let Err(e) = gw.pool.remove_artifact(&artifact) {
        tracing::warn!(error = %e, "could not remove an unused artifact");
    }
}

/// Brings up `min_instances` in the background, subscribes the function's triggers and starts
/// its schedules.
pub fn start(gw: &Arc<Gateway>, deployed: &Arc<Deployed>) {
    crate::triggers::start(gw, deployed);
    crate::schedules::start(gw, deployed);
    prestart(deployed);
}

/// Brings up `min_instances` in the background, without triggers: a live version that is not
/// its function's primary one (triggers follow the primary version).
pub fn prestart(deployed: &Arc<Deployed>) {
    let function = deployed.function.clone();
    tokio::spawn(async move {
        if let Err(e) = function.start().await {
            tracing::warn!(function = %function.name(), error = %e, "could not pre-start");
        }
    });
}

#[cfg(test)]
mod tests;
