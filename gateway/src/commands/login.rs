//! `wasmgate login URL [--token T] [--key FILE]`: checks that the gateway answers and takes the
//! token, then saves the profile the client commands read. Nothing is written when a check fails.

use super::client::{self, GatewayError, Target};
use super::profile::{self, Profile};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use wasmgate::cli::LoginArgs;

/// Checks and saves; prints where the profile went.
pub fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let url = client::normalize_url(&args.url)?;
    let key = args
        .key
        .as_deref()
        .map(|path| {
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read key {}", path.display()))?;
            wasmgate_claims::SigningKey::from_pkcs8_pem(&pem).with_context(|| {
                format!(
                    "{} is not an issuer private key (make one with `wasmgate keys generate`)",
                    path.display()
                )
            })?;
            std::fs::canonicalize(path)
                .with_context(|| format!("cannot resolve {}", path.display()))
        })
        .transpose()?;
    let target = Target {
        url: url.clone(),
        token: args.token.clone(),
    };
    let functions = client::runtime()?.block_on(check(&target, args.json))?;
    let path = profile::path()?;
    profile::save(
        &path,
        &Profile {
            url: Some(url.clone()),
            token: args.token.clone(),
            key,
        },
    )?;
    if args.json {
        println!(
            "{}",
            json!({ "url": url, "profile": path.display().to_string(), "functions": functions })
        );
    } else {
        println!(
            "logged in to {url} ({functions} function{} deployed); profile saved to {} (mode 0600)",
            if functions == 1 { "" } else { "s" },
            path.display()
        );
    }
    Ok(())
}

/// `GET /healthz` (the URL is a live gateway), then `GET /functions` with the token (the token is
/// the admin token); the number of functions deployed.
async fn check(target: &Target, json: bool) -> anyhow::Result<usize> {
    let http = client::http()?;
    let health = client::send(http.get(target.at("/healthz")), &target.url).await?;
    if !health.status().is_success() {
        bail!(
            "{} answered {}: is this the URL of a wasmgate gateway? nothing was saved",
            target.at("/healthz"),
            health.status()
        );
    }
    let listed = client::send(
        target.admin(&http, reqwest::Method::GET, "/functions"),
        &target.url,
    )
    .await?;
    let body = client::success(listed, json).await.map_err(|e| {
        match e.downcast::<GatewayError>() {
            Ok(refused) if refused.status == 401 => anyhow::anyhow!(
                "the gateway at {} refused the token ({}: {}); nothing was saved\n  pass the gateway's admin token with --token (its admin_token setting, or the file admin-token in its data dir)",
                target.url,
                refused.code,
                refused.message
            ),
            Ok(other) => anyhow::anyhow!("{other}\n  nothing was saved"),
            Err(e) => e,
        }
    })?;
    let list: Value = serde_json::from_slice(&body)
        .with_context(|| format!("{} did not answer JSON", target.at("/functions")))?;
    let functions = list["functions"].as_array().with_context(|| {
        format!(
            "{} answered no function list: is this a wasmgate gateway?",
            target.at("/functions")
        )
    })?;
    Ok(functions.len())
}
