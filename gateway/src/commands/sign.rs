//! `wasmgate sign`: embed signed claims in a component.

use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::time::SystemTime;
use wasmgate::cli::SignArgs;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::{FunctionName, Grant};

/// Signs `args.input` and writes the result to `args.output` atomically.
pub fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let name = FunctionName::try_from(args.name.clone())?;
    let grants = args
        .caps
        .iter()
        .map(|c| c.parse::<Grant>())
        .collect::<Result<Vec<_>, _>>()?;
    let caps: Vec<_> = grants.iter().map(|g| g.capability).collect();
    let mut allowed_hosts = BTreeMap::new();
    for grant in grants {
        if let Some(hosts) = grant.hosts {
            allowed_hosts
                .entry(grant.capability)
                .or_insert_with(Vec::new)
                .extend(hosts);
        }
    }
    let expires_in = match args.expires.as_deref() {
        None => Some(wasmgate_config::defaults::DEFAULT_SIGN_VALIDITY),
        Some("never") => None,
        Some(e) => Some(humantime::parse_duration(e).with_context(|| {
            format!("--expires {e:?} is not a duration like 90d or 12h, nor `never`")
        })?),
    };
    let manifest = args
        .manifest
        .as_ref()
        .map(|path| {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read manifest {}", path.display()))?;
            let text = std::str::from_utf8(&bytes)
                .with_context(|| format!("manifest {} is not UTF-8 text", path.display()))?;
            wasmgate_config::Manifest::from_toml(text)
                .with_context(|| format!("manifest {} is not valid", path.display()))?;
            anyhow::Ok(bytes)
        })
        .transpose()?;
    let key_path = match &args.key {
        Some(path) => path.clone(),
        None => super::client::profile_key()?.context(
            "no issuer key: pass --key FILE, or save one with `wasmgate login URL --key FILE`",
        )?,
    };
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read key {}", key_path.display()))?;
    let key = SigningKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not an issuer key", key_path.display()))?;
    let component = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let options = SignOptions {
        name: name.as_str().to_owned(),
        caps: caps.clone(),
        expires_in,
        version: args.version.clone(),
        tags: args.tags.clone(),
        allowed_hosts: allowed_hosts.clone(),
        audience: args.audience.clone(),
        manifest,
    };
    let signed = wasmgate_claims::sign(&component, &key, &options, SystemTime::now())?;
    write_atomically(&args.output, &signed)?;
    let caps: Vec<String> = caps
        .iter()
        .map(|c| match allowed_hosts.get(c) {
            Some(hosts) => {
                let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
                format!("{c}={}", hosts.join(","))
            }
            None => c.to_string(),
        })
        .collect();
    let expires = match expires_in {
        Some(d) => humantime::format_duration(d).to_string(),
        None => "never".to_owned(),
    };
    let manifest = match &args.manifest {
        Some(path) => format!(", manifest: {}", path.display()),
        None => String::new(),
    };
    println!(
        "signed {} for function {name} by {} (caps: [{}], expires in: {expires}{manifest})",
        args.output.display(),
        key.issuer(),
        caps.join(", "),
    );
    Ok(())
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`.
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
