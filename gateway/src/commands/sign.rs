//! `wasmgate sign`: embed signed claims in a component.

use anyhow::Context;
use std::io::Write;
use std::time::SystemTime;
use wasmgate::cli::SignArgs;
use wasmgate_claims::{SignOptions, SigningKey};
use wasmgate_config::{Capability, FunctionName};

/// Signs `args.input` and writes the result to `args.output` atomically.
pub fn sign(args: &SignArgs) -> anyhow::Result<()> {
    let name = FunctionName::try_from(args.name.clone())?;
    let caps = args
        .caps
        .iter()
        .map(|c| c.parse::<Capability>())
        .collect::<Result<Vec<_>, _>>()?;
    let expires_in = args
        .expires
        .as_deref()
        .map(|e| {
            humantime::parse_duration(e)
                .with_context(|| format!("--expires {e:?} is not a duration like 90d or 12h"))
        })
        .transpose()?;
    let pem = std::fs::read_to_string(&args.key)
        .with_context(|| format!("cannot read key {}", args.key.display()))?;
    let key = SigningKey::from_pkcs8_pem(&pem)
        .with_context(|| format!("{} is not an issuer key", args.key.display()))?;
    let component = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let options = SignOptions {
        name: name.as_str().to_owned(),
        caps: caps.clone(),
        expires_in,
        version: args.version.clone(),
        tags: args.tags.clone(),
    };
    let signed = wasmgate_claims::sign(&component, &key, &options, SystemTime::now())?;
    write_atomically(&args.output, &signed)?;
    let caps: Vec<&str> = caps.iter().map(|c| c.as_str()).collect();
    println!(
        "signed {} for function {name} by {} (caps: [{}], expires: {})",
        args.output.display(),
        key.issuer(),
        caps.join(", "),
        args.expires.as_deref().unwrap_or("never"),
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
