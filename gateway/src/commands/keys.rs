//! `wasmgate keys generate`: a new issuer key pair.

use anyhow::Context;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use wasmgate_claims::SigningKey;

/// Writes a new private key to `out` (mode 0600, never overwriting) and prints the public key on
/// the last line of stdout (`json`: one object `{"private_key_file", "public_key"}`).
pub fn generate(out: &Path, json: bool) -> anyhow::Result<()> {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem()?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| {
            format!(
                "cannot create {} (an existing key is never overwritten)",
                out.display()
            )
        })?;
    file.write_all(pem.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))?;
    if json {
        let report = serde_json::json!({
            "private_key_file": out.display().to_string(),
            "public_key": key.issuer().to_string(),
        });
        println!("{report}");
        return Ok(());
    }
    println!("private key written to {} (keep it secret)", out.display());
    println!("trust it with: wasmgate serve --trust {}", key.issuer());
    println!("{}", key.issuer());
    Ok(())
}
