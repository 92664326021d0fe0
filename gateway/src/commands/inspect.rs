//! `wasmgate inspect`: what a component claims, imports and exports, and whether it verifies.

use anyhow::Context;
use serde_json::{Value, json};
use std::time::SystemTime;
use wasmgate::cli::InspectArgs;
use wasmgate_claims::IssuerKey;
use wasmgate_config::WasiTarget;

/// Prints the report; fails (exit 1) when `--trust` is given and the component does not verify.
pub fn inspect(args: &InspectArgs) -> anyhow::Result<bool> {
    let trusted = args
        .trust
        .iter()
        .map(|k| k.parse::<IssuerKey>())
        .collect::<Result<Vec<_>, _>>()?;
    let component = std::fs::read(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let info = wasmgate_claims::component_info(&component)?;
    let wasi = WasiTarget::detect(
        info.exports.iter().map(String::as_str),
        info.imports.iter().map(String::as_str),
    );
    let token = wasmgate_claims::extract(&component)?;
    let claims = token
        .as_deref()
        .map(wasmgate_claims::decode_unverified)
        .transpose()?;
    let hash = wasmgate_claims::module_hash(&component)?;
    let verification: Option<Result<(), wasmgate_claims::Error>> = (!trusted.is_empty())
        .then(|| wasmgate_claims::verify(&component, &trusted, SystemTime::now()).map(|_| ()));
    let verified = verification.as_ref().is_none_or(Result::is_ok);

    let report = json!({
        "file": args.input.display().to_string(),
        "size": component.len(),
        "hash": hash,
        "signed": token.is_some(),
        "claims": claims,
        "wasi": wasi.as_ref().map(|target| json!({
            "version": target.version,
            "interface": target.interface,
            "served": target.served().is_ok(),
            "not_served_because": target.served().err(),
        })),
        "imports": info.imports,
        "exports": info.exports,
        "verified": verification.as_ref().map(Result::is_ok),
        "error": match &verification {
            Some(Err(e)) => json!({ "code": e.code(), "message": e.to_string() }),
            _ => Value::Null,
        },
    });
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&report);
    }
    Ok(verified)
}

fn print_text(report: &Value) {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    println!("file:     {}", s(&report["file"]));
    println!("size:     {} bytes", report["size"]);
    println!(
        "hash:     {} (sha256 without the jwt section)",
        s(&report["hash"])
    );
    match &report["claims"] {
        Value::Null => println!("claims:   none (unsigned: sign it with `wasmgate sign`)"),
        claims => {
            println!("issuer:   {}", s(&claims["iss"]));
            println!("function: {}", s(&claims["sub"]));
            println!("caps:     {}", claims["wasmgate"]["caps"]);
            if let Some(lists) = claims["wasmgate"]["allowed_hosts"].as_object() {
                for (cap, hosts) in lists {
                    let hosts: Vec<String> =
                        hosts.as_array().into_iter().flatten().map(s).collect();
                    println!("hosts:    {cap}: {}", hosts.join(", "));
                }
            }
            println!("issued:   {} (unix seconds)", claims["iat"]);
            println!(
                "expires:  {}",
                match &claims["exp"] {
                    Value::Null => "never".to_owned(),
                    e => format!("{e} (unix seconds)"),
                }
            );
            if let Some(aud) = claims["aud"].as_str() {
                println!("audience: {aud}");
            }
            match claims["wasmgate"]["manifest"].as_str() {
                Some(manifest) => println!("manifest: sha256 {manifest} (signed)"),
                None => println!("manifest: unsigned (only tuning keys will be accepted)"),
            }
            if claims["wasmgate"]["hash"] != report["hash"] {
                println!(
                    "          the signed hash {} does not match this component",
                    claims["wasmgate"]["hash"]
                );
            }
        }
    }
    match &report["wasi"] {
        Value::Null => println!("wasi:     none named (exports no wasi:http handler)"),
        wasi => {
            let target = format!("{} ({})", s(&wasi["version"]), s(&wasi["interface"]));
            match wasi["not_served_because"].as_str() {
                None => println!("wasi:     {target}, served by this gateway"),
                Some(why) => println!("wasi:     {target}, NOT served by this gateway: {why}"),
            }
        }
    }
    match (&report["verified"], &report["error"]) {
        (Value::Bool(true), _) => println!("verified: yes"),
        (Value::Bool(false), e) => {
            println!("verified: NO: {} ({})", s(&e["message"]), s(&e["code"]))
        }
        _ => println!("verified: not checked (pass --trust PUBKEY)"),
    }
    for (title, list) in [
        ("imports", &report["imports"]),
        ("exports", &report["exports"]),
    ] {
        println!("{title}:");
        for item in list.as_array().into_iter().flatten() {
            println!("  {}", s(item));
        }
    }
}
