//! `wasmgate deploy [DIR|FILE|oci://...]`: from a project (or a built component) to a function
//! that answers, in one step: build, propose the grants the component's imports need, sign with
//! the profile's key (manifest included), upload, and call it once. Given an `oci://`
//! reference, it asks the gateway to pull that component (signed when it was pushed) instead.
//!
//! A project directory carries [`PROJECT_FILE`] (`wasmgate new` writes it): the name, the build
//! command, where the component lands, and optionally the grants and the manifest. The grants
//! are never guessed silently: what the imports need is shown, and taken only from `--cap`, the
//! project's `caps`, `--yes` or a yes on the terminal. Network access is never proposed: it
//! needs the hosts it may reach, which only the author knows.

use super::client::{self, GatewayError, Target};
use super::sign::{self, Grants};
use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use wasmgate::cli::DeployArgs;
use wasmgate_claims::SignOptions;
use wasmgate_config::{Capability, FunctionName, Need};

/// The project file in a function's directory.
pub const PROJECT_FILE: &str = "deploy.toml";

/// How long `deploy` waits for a deployed function's first answer (a cluster's other nodes read
/// a new record through on their first call; a busy gateway may answer 503 for a moment).
const FIRST_ANSWER_WITHIN: Duration = Duration::from_secs(30);

/// [`PROJECT_FILE`]: how `wasmgate deploy` builds and deploys a project.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// The function name it deploys as.
    pub name: String,
    /// The shell command (`sh -c`) that builds it, run in the project's directory.
    #[serde(default)]
    pub build: Option<String>,
    /// The built component, relative to the project. A leading `target/` is read from
    /// `$CARGO_TARGET_DIR` when that is set, as cargo itself does.
    pub component: PathBuf,
    /// Grants, written as `--cap` takes them (`keyvalue`, `http-outgoing=api.example.com`).
    #[serde(default)]
    pub caps: Option<Vec<String>>,
    /// The function manifest (TOML) to sign and deploy with, relative to the project.
    #[serde(default)]
    pub manifest: Option<PathBuf>,
}

impl Project {
    /// Reads `dir/deploy.toml`.
    pub fn load(dir: &Path) -> anyhow::Result<Project> {
        let path = dir.join(PROJECT_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "{} has no {PROJECT_FILE}: deploy a built component by its file (`wasmgate deploy app.wasm --name NAME`), or start a project with `wasmgate new NAME`",
                dir.display()
            ),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Where the built component is, `cargo_target_dir` standing in for a leading `target/`.
    pub fn component_path(&self, dir: &Path, cargo_target_dir: Option<&Path>) -> PathBuf {
        match (cargo_target_dir, self.component.strip_prefix("target")) {
            (Some(target), Ok(rest)) => target.join(rest),
            _ => dir.join(&self.component),
        }
    }
}

/// What a component's imports ask of its grants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Capabilities without which the gateway refuses the component (keyvalue, messaging,
    /// config), each with the first import that needs it.
    pub required: Vec<(Capability, String)>,
    /// Network capabilities its imports use, each with the first such import: linked anyway,
    /// every destination refused until granted.
    pub network: Vec<(Capability, String)>,
    /// Interfaces the gateway does not provide (it will refuse the component, naming them).
    pub unknown: Vec<String>,
}

impl Needs {
    /// Reads them off the component's top-level imports (the rule is [`Capability::needed_by`],
    /// the one admission and the linker apply).
    pub fn of(imports: &[String]) -> Needs {
        let mut needs = Needs::default();
        let add = |list: &mut Vec<(Capability, String)>, cap: Capability, import: &String| {
            if !list.iter().any(|(c, _)| *c == cap) {
                list.push((cap, import.clone()));
            }
        };
        for import in imports {
            match Capability::needed_by(import) {
                Need::Capability(cap) => add(&mut needs.required, cap, import),
                Need::Denied(cap) => add(&mut needs.network, cap, import),
                Need::Unknown => needs.unknown.push(import.clone()),
                Need::Baseline => {}
            }
        }
        needs
    }

    /// The grants to sign: `given` (from `--cap` or the project) with what is missing added
    /// when `yes` (or `ask` agrees); an error naming the missing capabilities otherwise.
    pub fn settle(
        &self,
        given: Option<Grants>,
        yes: bool,
        ask: impl FnOnce(&[Capability]) -> bool,
    ) -> anyhow::Result<Grants> {
        let mut grants = given.unwrap_or_default();
        let (missing, imports): (Vec<Capability>, Vec<&str>) = self
            .required
            .iter()
            .filter(|(cap, _)| !grants.caps.contains(cap))
            .map(|(cap, import)| (*cap, import.as_str()))
            .unzip();
        if missing.is_empty() {
            return Ok(grants);
        }
        if !yes && !ask(&missing) {
            let caps: Vec<String> = missing.iter().map(|c| format!("--cap {c}")).collect();
            bail!(
                "the component imports {} and would be refused without the grant: deploy again with {} (or --yes to grant what its imports need)",
                imports.join(", "),
                caps.join(" ")
            );
        }
        grants.caps.extend(missing);
        Ok(grants)
    }
}

/// What is being deployed, resolved from the arguments.
struct Source {
    name: FunctionName,
    /// The project's directory, when deploying a project.
    project: Option<(PathBuf, Project)>,
    component: PathBuf,
    manifest: Option<PathBuf>,
    caps: Option<Vec<String>>,
}

fn resolve_source(args: &DeployArgs) -> anyhow::Result<Source> {
    let path = args.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let metadata = std::fs::metadata(&path).with_context(|| {
        format!(
            "cannot read {}: give a project directory or a .wasm file",
            path.display()
        )
    })?;
    let given_caps = (!args.caps.is_empty()).then(|| args.caps.clone());
    if metadata.is_dir() {
        let project = Project::load(&path)?;
        let name = args.name.clone().unwrap_or_else(|| project.name.clone());
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
        let component = project.component_path(&path, target.as_deref());
        let manifest = args
            .manifest
            .clone()
            .or_else(|| project.manifest.as_ref().map(|m| path.join(m)));
        let caps = given_caps.or_else(|| project.caps.clone());
        return Ok(Source {
            name: FunctionName::try_from(name)?,
            project: Some((path, project)),
            component,
            manifest,
            caps,
        });
    }
    let name = match &args.name {
        Some(name) => name.clone(),
        None => path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.trim_end_matches(".signed").to_owned())
            .with_context(|| {
                format!(
                    "cannot name a function after {}: pass --name NAME",
                    path.display()
                )
            })?,
    };
    let name = FunctionName::try_from(name.clone())
        .with_context(|| format!("{name:?} cannot be a function name: pass --name NAME"))?;
    Ok(Source {
        name,
        project: None,
        component: path,
        manifest: args.manifest.clone(),
        caps: given_caps,
    })
}

/// Progress on stderr: a spinner on a terminal, one line per step otherwise, nothing with
/// `--json`.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    lines: bool,
}

impl Progress {
    fn new(json: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!json && terminal).then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        Progress {
            bar,
            lines: !json && !terminal,
        }
    }

    fn step(&self, what: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(what.to_owned()),
            None if self.lines => eprintln!("{what}"),
            None => {}
        }
    }

    /// Prints `line` above the spinner (or on its own).
    fn note(&self, line: &str) {
        self.aside(|| eprintln!("{line}"));
    }

    /// Runs `f` with the spinner cleared from the terminal, for output of its own (a question,
    /// a build tool's progress).
    fn aside<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Runs `wasmgate deploy`; see the module docs.
pub fn deploy(args: &DeployArgs) -> anyhow::Result<()> {
    if let Some(reference) = args
        .path
        .as_deref()
        .and_then(|p| p.to_str())
        .filter(|p| p.starts_with(wasmgate::oci::reference::SCHEME))
    {
        return deploy_oci(args, reference);
    }
    let source = resolve_source(args)?;
    let target = client::resolve(&args.gateway)?;
    let key = sign::load_key(args.gateway.key.as_deref())?;
    let progress = Progress::new(args.json);
    if let Some((dir, project)) = &source.project {
        match &project.build {
            Some(command) if !args.no_build => build(dir, command, &progress, args.json)?,
            _ => {}
        }
    }
    let component = std::fs::read(&source.component).with_context(|| {
        let hint = if source.project.is_some() {
            " (did the build put it there? check `component` in deploy.toml)"
        } else {
            ""
        };
        format!(
            "cannot read the component {}{hint}",
            source.component.display()
        )
    })?;
    let info = wasmgate_claims::component_info(&component).with_context(|| {
        format!(
            "{} is not a WebAssembly component",
            source.component.display()
        )
    })?;
    let needs = Needs::of(&info.imports);
    let given = source.caps.as_deref().map(sign::parse_grants).transpose()?;
    let terminal = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let grants = needs.settle(given, args.yes, |missing| {
        terminal && !args.json && progress_ask(&progress, &source.name, missing)
    })?;
    if !args.json {
        for (cap, import) in needs
            .network
            .iter()
            .filter(|(c, _)| !grants.caps.contains(c))
        {
            progress.note(&format!(
                "note: {} imports {import}; every destination is refused until you grant --cap {cap}=HOSTS",
                source.name,
            ));
        }
        for import in &needs.unknown {
            progress.note(&format!(
                "warning: {} imports {import}, which wasmgate does not provide; the gateway will refuse it",
                source.name
            ));
        }
    }
    let manifest = source
        .manifest
        .as_deref()
        .map(sign::read_manifest)
        .transpose()?;
    progress.step(&format!(
        "signing {} as {}",
        source.component.display(),
        key.issuer()
    ));
    let options = SignOptions {
        name: source.name.as_str().to_owned(),
        caps: grants.caps.clone(),
        expires_in: sign::parse_expiry(args.expires.as_deref())?,
        version: None,
        tags: Vec::new(),
        allowed_hosts: grants.allowed_hosts.clone(),
        audience: None,
        manifest: manifest.clone(),
    };
    let signed = wasmgate_claims::sign(&component, &key, &options, SystemTime::now())?;
    progress.step(&format!(
        "uploading {} ({} KiB) to {}",
        source.name,
        signed.len().div_ceil(1024),
        target.url
    ));
    let outcome = client::runtime()?.block_on(upload_and_call(
        &target,
        &source.name,
        Sent::Component(signed, manifest),
        &progress,
        args.json,
    ));
    progress.finish();
    let (answer, first) = outcome?;
    let caps = grants.display();
    report(
        &target,
        &source.name,
        Some(&caps),
        &answer,
        first,
        args.json,
    )
}

/// `wasmgate deploy oci://...`: the gateway pulls the component, signed when it was pushed, so
/// nothing is built or signed here; `--manifest` goes along as the JSON body's `manifest`.
fn deploy_oci(args: &DeployArgs, reference: &str) -> anyhow::Result<()> {
    let reference: wasmgate::oci::OciReference = reference.parse()?;
    if !args.caps.is_empty() || args.yes || args.expires.is_some() || args.no_build {
        bail!(
            "--cap, --yes, --expires and --no-build do not apply to {reference}: a component in a registry was signed (with its grants) before it was pushed"
        );
    }
    let name = match &args.name {
        Some(name) => FunctionName::try_from(name.clone())?,
        None => {
            let last = reference.repository().rsplit('/').next().unwrap_or("");
            FunctionName::try_from(last.to_owned()).with_context(|| {
                format!("name the function with --name (the repository's last part `{last}` is not a function name)")
            })?
        }
    };
    let target = client::resolve(&args.gateway)?;
    let mut body = json!({ "oci": reference.to_string() });
    if let Some(path) = &args.manifest {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the manifest {}", path.display()))?;
        body["manifest"] = json!(text);
    }
    let progress = Progress::new(args.json);
    progress.step(&format!(
        "asking {} to pull {reference} as {}",
        target.url,
        name.as_str()
    ));
    let outcome = client::runtime()?.block_on(upload_and_call(
        &target,
        &name,
        Sent::Oci(body),
        &progress,
        args.json,
    ));
    progress.finish();
    let (answer, first) = outcome?;
    report(&target, &name, None, &answer, first, args.json)
}

/// Asks on the terminal whether to grant `missing`.
fn progress_ask(progress: &Progress, name: &FunctionName, missing: &[Capability]) -> bool {
    let caps: Vec<&str> = missing.iter().map(|c| c.as_str()).collect();
    let mut answer = String::new();
    let asked = || {
        eprint!(
            "{name} imports what needs the grant of {}; sign it with them? [y/N] ",
            caps.join(", ")
        );
        let _ = std::io::stderr().flush();
        std::io::stdin().read_line(&mut answer).is_ok()
    };
    progress.aside(asked) && matches!(answer.trim(), "y" | "Y" | "yes")
}

/// Runs the project's build command in `dir`, its output on stderr (stdout stays for results).
fn build(dir: &Path, command: &str, progress: &Progress, json: bool) -> anyhow::Result<()> {
    progress.step(&format!("building: {command}"));
    // The build tools draw their own progress: the spinner steps aside while they run.
    let run = || {
        if !json {
            eprintln!("building in {}: {command}", dir.display());
        }
        let stdout = {
            use std::os::fd::AsFd;
            std::io::stderr()
                .as_fd()
                .try_clone_to_owned()
                .map_or_else(|_| std::process::Stdio::null(), std::process::Stdio::from)
        };
        std::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .status()
    };
    let status = progress
        .aside(run)
        .with_context(|| format!("cannot run the build `{command}` (is sh installed?)"))?;
    if !status.success() {
        bail!(
            "the build `{command}` failed ({status}) in {}: its output is above; fix it and deploy again (or --no-build to deploy the last build)",
            dir.display()
        );
    }
    Ok(())
}

/// What a deploy sends: a signed component, or the `oci://` reference of one.
enum Sent {
    /// The signed component, with its manifest when there is one.
    Component(Vec<u8>, Option<Vec<u8>>),
    /// The JSON body naming a registry's component.
    Oci(Value),
}

/// Uploads `sent` (a component, with its manifest as a multipart part when there is one, or a
/// JSON `oci://` body), then calls the function once; the gateway's deploy answer and the first
/// call's status.
async fn upload_and_call(
    target: &Target,
    name: &FunctionName,
    sent: Sent,
    progress: &Progress,
    json: bool,
) -> anyhow::Result<(Value, Option<u16>)> {
    let http = client::http()?;
    let path = format!("/functions/{}", name.as_str());
    let request = target.admin(&http, reqwest::Method::PUT, &path);
    let request = match sent {
        Sent::Oci(body) => request.json(&body),
        Sent::Component(signed, Some(manifest)) => {
            let module = reqwest::multipart::Part::bytes(signed)
                .file_name(format!("{}.wasm", name.as_str()))
                .mime_str("application/wasm")?;
            let manifest = reqwest::multipart::Part::bytes(manifest)
                .file_name("manifest.toml")
                .mime_str("application/toml")?;
            request.multipart(
                reqwest::multipart::Form::new()
                    .part("module", module)
                    .part("manifest", manifest),
            )
        }
        Sent::Component(signed, None) => request
            .header(reqwest::header::CONTENT_TYPE, "application/wasm")
            .body(signed),
    };
    let response = client::send(request, &target.url).await?;
    let body = client::success(response, json).await?;
    let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    progress.step(&format!("waiting for {} to answer", name.as_str()));
    Ok((answer, first_answer(&http, target, name).await))
}

/// The status of `GET /fn/NAME/`, waiting out the moments a just-deployed function may not be
/// routed yet (404 `function_not_found`, 503); `None` when it never answered.
async fn first_answer(http: &reqwest::Client, target: &Target, name: &FunctionName) -> Option<u16> {
    let url = target.at(&format!("/fn/{}/", name.as_str()));
    let until = tokio::time::Instant::now() + FIRST_ANSWER_WITHIN;
    let mut last = None;
    while tokio::time::Instant::now() < until {
        if let Ok(response) = http.get(&url).send().await {
            let status = response.status().as_u16();
            let body = response.bytes().await.unwrap_or_default();
            let not_yet = status == 503
                || (status == 404
                    && GatewayError::parse(status, &body).code == "function_not_found");
            last = Some(status);
            if !not_yet {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    last
}

/// Prints the outcome: a line for people, or one JSON object with `--json`.
fn report(
    target: &Target,
    name: &FunctionName,
    caps: Option<&[String]>,
    answer: &Value,
    first: Option<u16>,
    json: bool,
) -> anyhow::Result<()> {
    let url = target.at(&format!("/fn/{}/", name.as_str()));
    if json {
        let out = json!({
            "name": name.as_str(),
            "version": answer["version"],
            "digest": answer["digest"],
            "url": url,
            "caps": caps,
            "first_status": first,
            "deploy": answer,
        });
        println!("{out}");
        return Ok(());
    }
    let version = match &answer["version"] {
        Value::Null => String::new(),
        v => format!(" version {v}"),
    };
    let caps = match caps {
        None => "grants as signed".to_owned(),
        Some([]) => "no grants".to_owned(),
        Some(caps) => format!("grants: {}", caps.join(", ")),
    };
    let first = match first.and_then(|s| reqwest::StatusCode::from_u16(s).ok()) {
        Some(status) => format!("first answer: {status}"),
        None => "no answer yet".to_owned(),
    };
    let mut out = anstream::stdout();
    let green = anstyle::Style::new()
        .fg_color(Some(anstyle::AnsiColor::Green.into()))
        .bold();
    writeln!(
        out,
        "{green}deployed{green:#} {}{version} ({caps})\n  {url}\n  {first}",
        name.as_str()
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn imports(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn needs_split_required_network_and_unknown_imports() {
        let needs = Needs::of(&imports(&[
            "wasi:cli/environment@0.2.0",
            "wasi:keyvalue/store@0.2.0-draft",
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:sockets/tcp@0.2.0",
            "acme:thing/api",
        ]));
        assert_eq!(
            needs.required,
            [(
                Capability::Keyvalue,
                "wasi:keyvalue/store@0.2.0-draft".to_owned()
            )]
        );
        assert_eq!(
            needs.network,
            [
                (
                    Capability::HttpOutgoing,
                    "wasi:http/outgoing-handler@0.2.0".to_owned()
                ),
                (Capability::Sockets, "wasi:sockets/tcp@0.2.0".to_owned())
            ]
        );
        assert_eq!(needs.unknown, ["acme:thing/api"]);
    }

    #[test]
    fn grants_are_never_guessed_silently() {
        let needs = Needs::of(&imports(&["wasi:keyvalue/store@0.2.0-draft"]));
        // No grant, no --yes, nobody to ask: refused, naming the flag to add.
        let e = needs
            .settle(None, false, |_| false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--cap keyvalue") && e.contains("--yes"), "{e}");
        assert!(e.contains("wasi:keyvalue/store@0.2.0-draft"), "{e}");
        // A --cap list that misses it is refused too, even if it grants other things.
        let given = sign::parse_grants(&["messaging".into()]).unwrap();
        assert!(needs.settle(Some(given.clone()), false, |_| false).is_err());
        // --yes adds what is missing to what was given.
        let grants = needs.settle(Some(given), true, |_| false).unwrap();
        assert_eq!(grants.caps, [Capability::Messaging, Capability::Keyvalue]);
        // A yes on the terminal does the same, and is asked about exactly the missing ones.
        let grants = needs
            .settle(None, false, |missing| missing == [Capability::Keyvalue])
            .unwrap();
        assert_eq!(grants.caps, [Capability::Keyvalue]);
    }

    #[test]
    fn network_imports_are_not_proposed_and_a_plain_component_needs_nothing() {
        let needs = Needs::of(&imports(&[
            "wasi:http/outgoing-handler@0.2.0",
            "wasi:io/streams@0.2.0",
        ]));
        let grants = needs.settle(None, true, |_| true).unwrap();
        assert!(grants.caps.is_empty());
        let given = sign::parse_grants(&["http-outgoing=api.example.com".into()]).unwrap();
        let grants = needs.settle(Some(given.clone()), false, |_| false).unwrap();
        assert_eq!(grants, given);
    }

    #[test]
    fn projects_read_their_file_and_cargo_target_dir_stands_in_for_target() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(PROJECT_FILE),
            "name = \"hello\"\nbuild = \"cargo build --release\"\ncomponent = \"target/wasm32-wasip2/release/hello.wasm\"\n",
        )
        .unwrap();
        let project = Project::load(dir.path()).unwrap();
        assert_eq!(project.name, "hello");
        assert_eq!(
            project.component_path(dir.path(), None),
            dir.path().join("target/wasm32-wasip2/release/hello.wasm")
        );
        let shared = Path::new("/shared/target");
        assert_eq!(
            project.component_path(dir.path(), Some(shared)),
            shared.join("wasm32-wasip2/release/hello.wasm")
        );
        std::fs::write(
            dir.path().join(PROJECT_FILE),
            "name = \"x\"\ncomponent = \"x.wasm\"\ncolour = 1\n",
        )
        .unwrap();
        let e = format!("{:#}", Project::load(dir.path()).unwrap_err());
        assert!(e.contains("colour"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        let e = Project::load(empty.path()).unwrap_err().to_string();
        assert!(e.contains("wasmgate new"), "{e}");
    }
}
