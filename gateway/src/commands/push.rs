//! `wasmgate push FILE oci://REGISTRY/REPOSITORY:TAG`: stores a signed component in an OCI
//! registry as a wasm artifact (the layout of [`wasmgate::oci::artifact`]), for a gateway to
//! pull with `PUT /functions/NAME {"oci": "..."}` or `wasmgate deploy oci://...`.
//!
//! Credentials: `--username` with the password or token on standard input
//! (`--password-stdin`) or in `WASMGATE_REGISTRY_PASSWORD`, never on the command line where
//! `ps` shows it.

use super::client;
use anyhow::{Context, bail};
use serde_json::json;
use std::io::Read;
use wasmgate::cli::PushArgs;
use wasmgate::oci::distribution::{Credentials, Repository};
use wasmgate::oci::{OciReference, artifact};

/// The variable `push` reads the registry password from when `--password-stdin` is not given.
pub const PASSWORD_ENV: &str = "WASMGATE_REGISTRY_PASSWORD";

/// Pushes the component; prints its reference and digests.
pub fn push(args: &PushArgs) -> anyhow::Result<()> {
    let reference: OciReference = args.reference.parse()?;
    let Some(tag) = reference.tag().map(str::to_owned) else {
        bail!("{reference} names no tag: push to a tag, e.g. {reference}:1.0");
    };
    if reference.digest().is_some() {
        bail!(
            "{reference} pins a digest: push to a tag alone (the registry names the digest, and push prints it)"
        );
    }
    let component = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let info = wasmgate_claims::component_info(&component)
        .with_context(|| format!("{} is not a WebAssembly component", args.file.display()))?;
    let signed = wasmgate_claims::extract(&component)
        .with_context(|| format!("{} has a malformed signature section", args.file.display()))?;
    if signed.is_none() {
        bail!(
            "{} is not signed, and a gateway refuses unsigned components: sign it first (`wasmgate sign --name NAME [--cap CAP]... {} -o signed.wasm`) and push what that writes",
            args.file.display(),
            args.file.display()
        );
    }
    let credentials = credentials(args)?;
    let packed = artifact::pack(&component, &info.imports, &info.exports, chrono::Utc::now())
        .map_err(|e| anyhow::anyhow!("cannot write the artifact's manifest: {e}"))?;
    let http = client::http()?;
    let repository = Repository::new(
        http,
        reference.registry(),
        reference.repository(),
        args.plain_http,
        true,
        credentials,
        Box::new(|_| Ok(())),
    )?;
    let say = |line: String| {
        if !args.json {
            eprintln!("{line}");
        }
    };
    let manifest_digest = client::runtime()?.block_on(async {
        for (what, digest, bytes) in [
            ("config", &packed.config_digest, packed.config.clone()),
            ("component", &packed.layer_digest, component.clone()),
        ] {
            if repository.has_blob(digest).await? {
                say(format!("{what} {digest} is in the registry already"));
                continue;
            }
            say(format!("uploading the {what} ({} bytes)", bytes.len()));
            repository.push_blob(digest, bytes.into()).await?;
        }
        say(format!("tagging {reference}"));
        repository
            .put_manifest(&tag, packed.manifest.clone().into())
            .await
    })?;
    if manifest_digest != packed.manifest_digest {
        bail!(
            "the registry names the manifest {manifest_digest}, but it hashes to {}: the registry changed what was pushed",
            packed.manifest_digest
        );
    }
    let pinned = format!(
        "oci://{}/{}@{manifest_digest}",
        reference.registry(),
        reference.repository()
    );
    if args.json {
        println!(
            "{}",
            json!({
                "reference": reference.to_string(),
                "pinned": pinned,
                "digest": packed.layer_digest,
                "manifest_digest": manifest_digest,
                "size": component.len(),
            })
        );
    } else {
        println!(
            "pushed {reference}\n  component {}\n  pinned    {pinned}\n  deploy it: wasmgate deploy {reference} --name NAME",
            packed.layer_digest
        );
    }
    Ok(())
}

/// The credentials of `--username`, with the password from stdin or [`PASSWORD_ENV`].
fn credentials(args: &PushArgs) -> anyhow::Result<Option<Credentials>> {
    let Some(username) = &args.username else {
        if args.password_stdin {
            bail!("--password-stdin needs --username");
        }
        return Ok(None);
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        text.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        std::env::var(PASSWORD_ENV).map_err(|_| {
            anyhow::anyhow!(
                "--username {username} needs a password: pipe it in with --password-stdin, or set {PASSWORD_ENV}"
            )
        })?
    };
    Ok(Some(Credentials {
        username: username.clone(),
        password,
    }))
}
