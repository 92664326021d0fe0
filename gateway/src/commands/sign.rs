//! `wasmgate sign`: embed signed claims in a component.

use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, SystemTime};
use wasmgate::cli::SignArgs;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::{Capability, FunctionName, Grant, HostPattern};

/// Signs `args.input` and writes the result to `args.output` atomically.
pub fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let name = FunctionName::try_from(args.name.clone())?;
    let grants = parse_grants(&args.caps)?;
    let expires_in = parse_expiry(args.expires.as_deref())?;
    let manifest = args.manifest.as_deref().map(read_manifest).transpose()?;
    let key = load_key(args.key.as_deref())?;
    let component = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let options = SignOptions {
        name: name.as_str().to_owned(),
        caps: grants.caps.clone(),
        expires_in,
        version: args.version.clone(),
        tags: args.tags.clone(),
        allowed_hosts: grants.allowed_hosts.clone(),
        audience: args.audience.clone(),
        manifest,
    };
    let signed = wasmgate_claims::sign(&component, &key, &options, SystemTime::now())?;
    write_atomically(&args.output, &signed)?;
    let expires = match expires_in {
        Some(d) => humantime::format_duration(d).to_string(),
        None => "never".to_owned(),
    };
    if args.json {
        let report = serde_json::json!({
            "output": args.output.display().to_string(),
            "name": name.as_str(),
            "issuer": key.issuer().to_string(),
            "caps": grants.display(),
            "expires_in_seconds": expires_in.map(|d| d.as_secs()),
            "manifest": args.manifest.as_ref().map(|p| p.display().to_string()),
        });
        println!("{report}");
        return Ok(());
    }
    let manifest = match &args.manifest {
        Some(path) => format!(", manifest: {}", path.display()),
        None => String::new(),
    };
    println!(
        "signed {} for function {name} by {} (caps: [{}], expires in: {expires}{manifest})",
        args.output.display(),
        key.issuer(),
        grants.display().join(", "),
    );
    Ok(())
}

/// `--cap` values parsed: the capabilities, and the host lists of those that name hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    /// Every granted capability, in the order given.
    pub caps: Vec<Capability>,
    /// The only hosts a network capability may reach, when its `--cap` listed them.
    pub allowed_hosts: BTreeMap<Capability, Vec<HostPattern>>,
}

impl Grants {
    /// Each grant as `--cap` writes it: `keyvalue`, `http-outgoing=api.example.com`.
    pub fn display(&self) -> Vec<String> {
        self.caps
            .iter()
            .map(|c| match self.allowed_hosts.get(c) {
                Some(hosts) => {
                    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
                    format!("{c}={}", hosts.join(","))
                }
                None => c.to_string(),
            })
            .collect()
    }
}

/// Parses `--cap CAP[=HOSTS]` values (see [`Grant`]).
pub fn parse_grants(caps: &[String]) -> anyhow::Result<Grants> {
    let mut grants = Grants::default();
    for cap in caps {
        let grant = cap.parse::<Grant>()?;
        if !grants.caps.contains(&grant.capability) {
            grants.caps.push(grant.capability);
        }
        if let Some(hosts) = grant.hosts {
            grants
                .allowed_hosts
                .entry(grant.capability)
                .or_default()
                .extend(hosts);
        }
    }
    Ok(grants)
}

/// `--expires`: a duration like `90d` (default [`DEFAULT_SIGN_VALIDITY`]) or `never` (`None`).
///
/// [`DEFAULT_SIGN_VALIDITY`]: wasmgate_config::defaults::DEFAULT_SIGN_VALIDITY
pub fn parse_expiry(expires: Option<&str>) -> anyhow::Result<Option<Duration>> {
    match expires {
        None => Ok(Some(wasmgate_config::defaults::DEFAULT_SIGN_VALIDITY)),
        Some("never") => Ok(None),
        Some(e) => Ok(Some(humantime::parse_duration(e).with_context(|| {
            format!("--expires {e:?} is not a duration like 90d or 12h, nor `never`")
        })?)),
    }
}

/// The manifest at `path`, checked (UTF-8, a valid manifest), as the exact bytes to sign and send.
pub fn read_manifest(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read manifest {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .with_context(|| format!("manifest {} is not UTF-8 text", path.display()))?;
    wasmgate_config::Manifest::from_toml(text)
        .with_context(|| format!("manifest {} is not valid", path.display()))?;
    Ok(bytes)
}

/// The issuer key at `path`, else the one the profile names (`wasmgate login --key`).
pub fn load_key(path: Option<&Path>) -> anyhow::Result<SigningKey> {
    let key_path = match path {
        Some(path) => path.to_path_buf(),
        None => super::client::profile_key()?.context(
            "no issuer key: pass --key FILE, or save one with `wasmgate login URL --key FILE` (make one with `wasmgate keys generate --out issuer.pem`; the gateway must trust its public key)",
        )?,
    };
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read key {}", key_path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not an issuer key", key_path.display()))
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
