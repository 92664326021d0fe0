//! Builds the guest components in `guests/` for wasm32-wasip2, and the conformance guests of other
//! toolchains in `conformance/` (spin-sdk 5 with cargo, Python and JavaScript through
//! `scripts/conformance-guests`), and generates `guests.rs`: one path constant per guest, one
//! `foreach_<suite>!` macro per suite, and `path(name)`.
//!
//! Every conformance kind also lands as `<target>/conformance/<kind>.wasm`, where
//! `scripts/conformance-compare` and `scripts/bench-kinds` find them.
//!
//! It also installs the CloudEvents clients (`scripts/cloudevents-clients`: the Python SDK, nats-py
//! and the protobuf schema compiled by grpcio-tools) under `<target>/cloudevents/`, and hands
//! their paths to the tests as `WASMGATE_CE_PYTHON` and `WASMGATE_CE_CLIENT` (`env!`).

use anyhow::{Context, bail};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Suites a guest name may start with; a guest outside them fails the build.
const SUITES: &[&str] = &["http", "limits", "caps", "leaks", "conf"];

/// The conformance guests of `guests/` (`conf_<kind>`) and those built from other toolchains'
/// registries into the conformance dir (`<kind>.wasm`), each as a `conf_<kind>` guest.
const GUEST_KINDS: &[&str] = &["rust", "wstd", "p3"];
const FOREIGN_KINDS: &[&str] = &["spin5", "python", "js"];

fn main() -> anyhow::Result<()> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let guests = manifest_dir.join("guests");
    println!("cargo:rerun-if-changed={}", guests.join("src").display());
    println!("cargo:rerun-if-changed={}", guests.join("wit").display());
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("Cargo.toml").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        guests.join("Cargo.lock").display()
    );

    let conformance = manifest_dir.join("conformance");
    let script = manifest_dir
        .join("..")
        .join("scripts")
        .join("conformance-guests");
    println!("cargo:rerun-if-changed={}", conformance.display());
    println!("cargo:rerun-if-changed={}", script.display());
    let ce_script = manifest_dir
        .join("..")
        .join("scripts")
        .join("cloudevents-clients");
    for input in [
        manifest_dir.join("cloudevents"),
        manifest_dir
            .join("..")
            .join("capabilities")
            .join("proto")
            .join("cloudevents.proto"),
        ce_script.clone(),
    ] {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let target_dir = out_dir.join("guests");
    build(&guests.join("Cargo.toml"), &target_dir)?;
    let release = target_dir.join("wasm32-wasip2").join("release");

    // Under the cargo target dir (not OUT_DIR, which changes with every build-script hash), so
    // the registry installs and the spin build survive and the scripts find the components.
    let conf_dir = cargo_target_dir(&out_dir).join("conformance");
    std::fs::create_dir_all(&conf_dir)?;
    build(
        &conformance.join("spin5").join("Cargo.toml"),
        &conf_dir.join("spin5-target"),
    )?;
    std::fs::copy(
        conf_dir
            .join("spin5-target")
            .join("wasm32-wasip2")
            .join("release")
            .join("conformance_spin5.wasm"),
        conf_dir.join("spin5.wasm"),
    )?;
    run_script(
        &script,
        &conf_dir,
        "building the conformance guests of other toolchains",
    )?;
    let ce_dir = cargo_target_dir(&out_dir).join("cloudevents");
    run_script(
        &ce_script,
        &ce_dir,
        "installing the CloudEvents clients (Python SDK, nats-py, protoc)",
    )?;
    println!(
        "cargo:rustc-env=WASMGATE_CE_PYTHON={}",
        ce_dir.join("venv").join("bin").join("python").display()
    );
    println!(
        "cargo:rustc-env=WASMGATE_CE_CLIENT={}",
        ce_dir.join("gen").join("client.py").display()
    );
    let copies = GUEST_KINDS
        .iter()
        .map(|kind| (format!("conf_{kind}"), kind.to_string()))
        .chain([("http_wasi_cases".to_owned(), "wasi-cases".to_owned())]);
    for (guest, kind) in copies {
        std::fs::copy(
            release.join(format!("{guest}.wasm")),
            conf_dir.join(format!("{kind}.wasm")),
        )
        .with_context(|| format!("guest {guest} was not built"))?;
    }

    let mut names = guest_names(&guests.join("src").join("bin"))?;
    names.extend(FOREIGN_KINDS.iter().map(|kind| format!("conf_{kind}")));
    names.sort();
    let mut code = String::new();
    for name in &names {
        let suite = name.split('_').next().unwrap_or("");
        if !SUITES.contains(&suite) {
            bail!(
                "guest `{name}` has no known suite prefix; known: {SUITES:?} (add it to SUITES in tests/build.rs)"
            );
        }
        let wasm = match name.strip_prefix("conf_") {
            Some(kind) if FOREIGN_KINDS.contains(&kind) => conf_dir.join(format!("{kind}.wasm")),
            _ => release.join(format!("{name}.wasm")),
        };
        if !wasm.exists() {
            bail!("guest `{name}` was not built at {}", wasm.display());
        }
        writeln!(
            code,
            "/// Path of the `{name}` guest component.\npub const {}: &str = {:?};",
            name.to_uppercase(),
            wasm.display().to_string()
        )?;
    }
    for suite in SUITES {
        let members: Vec<&String> = names
            .iter()
            .filter(|n| n.split('_').next() == Some(suite))
            .collect();
        writeln!(
            code,
            "/// Invokes `$mac!(name)` for every `{suite}_*` guest.\n#[macro_export]\nmacro_rules! foreach_{suite} {{\n    ($mac:ident) => {{"
        )?;
        for name in members {
            writeln!(code, "        $mac!({name});")?;
        }
        writeln!(code, "    }};\n}}")?;
    }
    writeln!(
        code,
        "/// Path of the guest called `name`, if there is one.\npub fn path(name: &str) -> Option<&'static str> {{\n    match name {{"
    )?;
    for name in &names {
        writeln!(code, "        {name:?} => Some({}),", name.to_uppercase())?;
    }
    writeln!(code, "        _ => None,\n    }}\n}}")?;
    std::fs::write(out_dir.join("guests.rs"), code)?;
    Ok(())
}

/// `<target>`: `CARGO_TARGET_DIR`, or the dir above `<profile>/build/<pkg>/out`.
fn cargo_target_dir(out_dir: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => out_dir
            .ancestors()
            .nth(4)
            .map_or_else(|| out_dir.join("target"), Path::to_path_buf),
    }
}

/// Runs one of the `scripts/` that install from registries (`conformance-guests`,
/// `cloudevents-clients`) into `dir`; it fails, and so does the build, when a toolchain cannot
/// be installed, with the script's own message saying what to install.
fn run_script(script: &Path, dir: &Path, what: &str) -> anyhow::Result<()> {
    let output = Command::new("bash")
        .arg(script)
        .arg(dir)
        .output()
        .with_context(|| format!("running {} (needs bash)", script.display()))?;
    if !output.status.success() {
        bail!(
            "{what} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// `cargo build --release` of the workspace at `manifest` for wasm32-wasip2 into `target_dir`.
fn build(manifest: &Path, target_dir: &Path) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(manifest)
        .args(["--target", "wasm32-wasip2", "--release", "--locked"])
        // A separate target dir: the outer build holds the lock on its own.
        .env("CARGO_TARGET_DIR", target_dir);
    // Flags meant for the host build must not leak into the wasm build; -D warnings should.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let rustflags = std::env::var("RUSTFLAGS").unwrap_or_default();
    if rustflags.contains("-D warnings") || rustflags.contains("-Dwarnings") {
        cmd.env("RUSTFLAGS", "-D warnings");
    } else {
        cmd.env_remove("RUSTFLAGS");
    }
    let output = cmd.output().context("running cargo for the guests")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("wasm32-wasip2") && stderr.contains("target may not be installed") {
            bail!("the wasm32-wasip2 target is missing: run `rustup target add wasm32-wasip2`");
        }
        bail!("building {} failed:\n{stderr}", manifest.display());
    }
    Ok(())
}

fn guest_names(bin_dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in
        std::fs::read_dir(bin_dir).with_context(|| format!("reading {}", bin_dir.display()))?
    {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "rs")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    Ok(names)
}
