//! `wasmgate new NAME --template T`: a function project from a template shipped inside the
//! binary, ready to build with the one command its README names.
//!
//! Templates (`wasmgate new --list`): `rust` (wstd HTTP handler), `rust-kv` (HTTP handler using
//! the key-value store and publishing messages), `rust-events` (a `wasi:messaging` event handler
//! with its `[[triggers]]` manifest), `js` (componentize-js, fetch event) and `python`
//! (componentize-py, wasi:http/proxy). Each also gets a `deploy.toml` for `wasmgate deploy`
//! naming its build, its component, the grants its imports need and its manifest. The JS and Python ones carry the
//! `wasi:http/proxy` WIT they export: the files of the wasmtime-wasi-http 48 crate that the
//! conformance guests use (`tests/conformance/wit`), renamed to WASI 0.2.10 for componentize-js
//! 0.23, whose StarlingMonkey exports that version. Every template is built and called on a
//! real gateway by the test suite (`tests/tests/e2e/templates.rs`).

use anyhow::{Context, bail};
use serde_json::json;
use std::io::Write;
use std::path::{Path, PathBuf};
use wasmgate_config::FunctionName;

/// One file of a template: its path in the project and its text, with `{{name}}` placeholders.
type File = (&'static str, &'static str);

/// A project template.
pub struct Template {
    /// What `--template` takes.
    pub name: &'static str,
    /// One line for `--list`.
    pub about: &'static str,
    /// The command that builds it, run in the project's directory.
    pub build: &'static str,
    /// The built component, relative to the project.
    pub output: &'static str,
    files: &'static [File],
    /// More files copied as they are (WIT packages).
    deps: &'static [File],
    /// Whether the project carries the `wasi:http/proxy` WIT, and at which WASI version.
    wit: Option<&'static str>,
    /// The grants its imports need, written into `deploy.toml`.
    caps: &'static [&'static str],
    /// Whether it ships a `manifest.toml` (signed with it by `wasmgate deploy`).
    manifest: bool,
}

/// The WASI version of the WIT files shipped with the templates.
const WIT_VERSION: &str = "0.2.12";

/// The world the JS and Python templates export.
const WORLD: &str = "// The world this function exports: wasi:http/proxy.\npackage wasmgate:function;\n\nworld proxy {\n  include wasi:http/proxy@0.2.12;\n}\n";

/// `wit/deps/` of the JS and Python templates.
const WIT_DEPS: &[File] = &[
    (
        "wit/deps/cli.wit",
        include_str!("../../../tests/conformance/wit/deps/cli.wit"),
    ),
    (
        "wit/deps/clocks.wit",
        include_str!("../../../tests/conformance/wit/deps/clocks.wit"),
    ),
    (
        "wit/deps/filesystem.wit",
        include_str!("../../../tests/conformance/wit/deps/filesystem.wit"),
    ),
    (
        "wit/deps/http.wit",
        include_str!("../../../tests/conformance/wit/deps/http.wit"),
    ),
    (
        "wit/deps/io.wit",
        include_str!("../../../tests/conformance/wit/deps/io.wit"),
    ),
    (
        "wit/deps/random.wit",
        include_str!("../../../tests/conformance/wit/deps/random.wit"),
    ),
    (
        "wit/deps/sockets.wit",
        include_str!("../../../tests/conformance/wit/deps/sockets.wit"),
    ),
];

/// `wit/deps/` of the Rust templates that reach the key-value store and the message bus: the
/// `wasi:keyvalue` and `wasi:messaging` 0.2.0-draft packages the gateway links.
const KV_MESSAGING_DEPS: &[File] = &[
    (
        "wit/deps/keyvalue/atomics.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/keyvalue/atomics.wit"),
    ),
    (
        "wit/deps/keyvalue/batch.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/keyvalue/batch.wit"),
    ),
    (
        "wit/deps/keyvalue/store.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/keyvalue/store.wit"),
    ),
    (
        "wit/deps/keyvalue/world.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/keyvalue/world.wit"),
    ),
    (
        "wit/deps/messaging/incoming-handler.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/messaging/incoming-handler.wit"),
    ),
    (
        "wit/deps/messaging/producer.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/messaging/producer.wit"),
    ),
    (
        "wit/deps/messaging/request-reply.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/messaging/request-reply.wit"),
    ),
    (
        "wit/deps/messaging/types.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/messaging/types.wit"),
    ),
    (
        "wit/deps/messaging/world.wit",
        include_str!("../../../tests/guests/wit/caps-events/deps/messaging/world.wit"),
    ),
];

/// The files every Rust template shares besides its `src/main.rs`, README and WIT.
macro_rules! rust_project {
    ($dir:literal $(, $extra:expr)* $(,)?) => {
        &[
            ("Cargo.toml", include_str!(concat!("../../templates/", $dir, "/Cargo.toml"))),
            (
                ".cargo/config.toml",
                include_str!("../../templates/rust/.cargo/config.toml"),
            ),
            ("src/main.rs", include_str!(concat!("../../templates/", $dir, "/src/main.rs"))),
            ("README.md", include_str!(concat!("../../templates/", $dir, "/README.md"))),
            (".gitignore", include_str!("../../templates/rust/.gitignore")),
            $($extra),*
        ]
    };
}

/// The world of `rust-kv`: the key-value store, and publishing on the bus.
const KV_WORLD: &str = "// What this function may reach: the key-value store and publishing on the message bus.\npackage wasmgate:function;\n\nworld function {\n  include wasi:keyvalue/imports@0.2.0-draft;\n  include wasi:messaging/imports@0.2.0-draft;\n}\n";

/// The world of `rust-events`: the key-value store, and the message handler it exports.
const EVENTS_WORLD: &str = "// What this function may reach (the key-value store) and what the host calls: its message handler.\npackage wasmgate:function;\n\nworld function {\n  include wasi:keyvalue/imports@0.2.0-draft;\n  export wasi:messaging/incoming-handler@0.2.0-draft;\n}\n";

/// Every template, in `--list` order.
pub const TEMPLATES: &[Template] = &[
    Template {
        name: "rust",
        about: "HTTP handler in Rust (wstd, wasi:http 0.2)",
        build: "cargo build --release",
        output: "target/wasm32-wasip2/release/{{name}}.wasm",
        files: rust_project!("rust"),
        deps: &[],
        wit: None,
        caps: &[],
        manifest: false,
    },
    Template {
        name: "rust-kv",
        about: "HTTP handler in Rust with key-value and messaging (wasi:keyvalue, wasi:messaging)",
        build: "cargo build --release",
        output: "target/wasm32-wasip2/release/{{name}}.wasm",
        files: rust_project!(
            "rust-kv",
            ("wit/world.wit", KV_WORLD),
            (
                "manifest.toml",
                include_str!("../../templates/rust-kv/manifest.toml")
            ),
        ),
        deps: KV_MESSAGING_DEPS,
        wit: None,
        caps: &["keyvalue", "messaging"],
        manifest: true,
    },
    Template {
        name: "rust-events",
        about: "Event handler in Rust (wasi:messaging incoming-handler, a [[triggers]] manifest)",
        build: "cargo build --release",
        output: "target/wasm32-wasip2/release/{{name}}.wasm",
        files: rust_project!(
            "rust-events",
            ("wit/world.wit", EVENTS_WORLD),
            (
                "manifest.toml",
                include_str!("../../templates/rust-events/manifest.toml")
            ),
        ),
        deps: KV_MESSAGING_DEPS,
        wit: None,
        caps: &["keyvalue", "messaging"],
        manifest: true,
    },
    Template {
        name: "js",
        about: "HTTP handler in JavaScript (componentize-js 0.23, fetch event)",
        build: "npm install && npm run build",
        output: "{{name}}.wasm",
        files: &[
            (
                "package.json",
                include_str!("../../templates/js/package.json"),
            ),
            ("app.js", include_str!("../../templates/js/app.js")),
            ("README.md", include_str!("../../templates/js/README.md")),
            (".gitignore", include_str!("../../templates/js/.gitignore")),
        ],
        deps: &[],
        wit: Some("0.2.10"),
        caps: &[],
        manifest: false,
    },
    Template {
        name: "python",
        about: "HTTP handler in Python (componentize-py 0.25, wasi:http/proxy)",
        build: "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/componentize-py -d wit -w proxy componentize app -o {{name}}.wasm",
        output: "{{name}}.wasm",
        files: &[
            ("app.py", include_str!("../../templates/python/app.py")),
            (
                "requirements.txt",
                include_str!("../../templates/python/requirements.txt"),
            ),
            (
                "README.md",
                include_str!("../../templates/python/README.md"),
            ),
            (
                ".gitignore",
                include_str!("../../templates/python/.gitignore"),
            ),
        ],
        deps: &[],
        wit: Some(WIT_VERSION),
        caps: &[],
        manifest: false,
    },
];

impl Template {
    /// The template called `name`.
    pub fn named(name: &str) -> Option<&'static Template> {
        TEMPLATES.iter().find(|t| t.name == name)
    }

    /// Every file of a project of this template for function `name`: path and text.
    pub fn render(&self, name: &FunctionName) -> Vec<(&'static str, String)> {
        let fill = |text: &str| text.replace("{{name}}", name.as_str());
        let mut files: Vec<(&'static str, String)> =
            self.files.iter().map(|(p, t)| (*p, fill(t))).collect();
        files.extend(self.deps.iter().map(|(p, t)| (*p, (*t).to_owned())));
        files.push((super::deploy::PROJECT_FILE, self.project_file(name)));
        if let Some(version) = self.wit {
            let wit = |text: &str| {
                text.replace(&format!("@{WIT_VERSION}"), &format!("@{version}"))
                    .replace(
                        &format!("version = {WIT_VERSION}"),
                        &format!("version = {version}"),
                    )
            };
            files.push(("wit/world.wit", wit(WORLD)));
            files.extend(WIT_DEPS.iter().map(|(p, t)| (*p, wit(t))));
        }
        files
    }
}

impl Template {
    /// The project's `deploy.toml`: what `wasmgate deploy` builds and uploads.
    fn project_file(&self, name: &FunctionName) -> String {
        let fill = |text: &str| text.replace("{{name}}", name.as_str());
        format!(
            "# How `wasmgate deploy` builds and deploys this project.\n\
             name = {name:?}\n\
             build = {build:?}\n\
             # The built component; a leading target/ follows $CARGO_TARGET_DIR when it is set.\n\
             component = {component:?}\n\
             # Grants, as `wasmgate deploy --cap` takes them, e.g. [\"keyvalue\", \"http-outgoing=api.example.com\"].\n\
             caps = {caps:?}\n\
             # The function manifest (TOML) to sign and deploy with.\n\
             {manifest}manifest = \"manifest.toml\"\n",
            name = name.as_str(),
            build = fill(self.build),
            component = fill(self.output),
            caps = self.caps,
            manifest = if self.manifest { "" } else { "# " },
        )
    }
}

/// Writes a project of template `template` for function `name` into `dir` (default `./NAME`),
/// which must not exist or be empty; prints what it wrote and how to build it (`json`: as one
/// JSON object `{"name", "template", "dir", "files", "build", "output"}`).
pub fn new(name: &str, template: &str, dir: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let name = FunctionName::try_from(name.to_owned())?;
    let Some(template) = Template::named(template) else {
        bail!(
            "there is no template `{}`: choose one of {} (wasmgate new --list)",
            template.escape_debug(),
            TEMPLATES
                .iter()
                .map(|t| t.name)
                .collect::<Vec<_>>()
                .join(", ")
        );
    };
    let dir = dir.map_or_else(|| PathBuf::from(name.as_str()), Path::to_path_buf);
    let occupied = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
    if occupied {
        bail!(
            "{} exists and is not empty: choose another directory with --dir, or remove it",
            dir.display()
        );
    }
    let files = template.render(&name);
    for (path, text) in &files {
        let path = dir.join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        file.write_all(text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let output = template.output.replace("{{name}}", name.as_str());
    let build = template.build.replace("{{name}}", name.as_str());
    if json {
        let paths: Vec<&str> = files.iter().map(|(p, _)| *p).collect();
        println!(
            "{}",
            json!({
                "name": name.as_str(),
                "template": template.name,
                "dir": dir.display().to_string(),
                "files": paths,
                "build": build,
                "output": output,
            })
        );
        return Ok(());
    }
    println!(
        "created {} ({} template, {} files)",
        dir.display(),
        template.name,
        files.len()
    );
    println!("build it:  cd {} && {build}", dir.display());
    println!(
        "deploy it: cd {} && wasmgate deploy   (builds, signs and uploads; see README.md)",
        dir.display()
    );
    Ok(())
}

/// Prints the templates, one per line (`json`: an array of `{"name", "about", "build"}`).
pub fn list(json: bool) {
    if json {
        let all: Vec<_> = TEMPLATES
            .iter()
            .map(|t| json!({"name": t.name, "about": t.about, "build": t.build}))
            .collect();
        println!("{}", serde_json::Value::from(all));
        return;
    }
    for t in TEMPLATES {
        println!("{:<8} {}", t.name, t.about);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> FunctionName {
        FunctionName::try_from(n.to_owned()).unwrap()
    }

    #[test]
    fn every_template_fills_in_the_name_and_leaves_no_placeholder() {
        for template in TEMPLATES {
            let files = template.render(&name("my-fn"));
            assert!(
                files.iter().any(|(p, _)| *p == "README.md"),
                "{}",
                template.name
            );
            for (path, text) in &files {
                assert!(!text.contains("{{"), "{}: {path}", template.name);
            }
            let readme = &files.iter().find(|(p, _)| *p == "README.md").unwrap().1;
            let build = template.build.replace("{{name}}", "my-fn");
            assert!(readme.contains(&build), "{}: {build}", template.name);
            assert!(readme.contains("wasmgate deploy"), "{}", template.name);
            // The project file parses, and names what the build makes.
            let dir = tempfile::tempdir().unwrap();
            let project = &files
                .iter()
                .find(|(p, _)| *p == super::super::deploy::PROJECT_FILE)
                .unwrap()
                .1;
            std::fs::write(dir.path().join(super::super::deploy::PROJECT_FILE), project).unwrap();
            let project = super::super::deploy::Project::load(dir.path()).unwrap();
            assert_eq!(project.name, "my-fn");
            assert_eq!(project.build.as_deref(), Some(build.as_str()));
            assert_eq!(
                project.component,
                PathBuf::from(template.output.replace("{{name}}", "my-fn"))
            );
        }
    }

    #[test]
    fn the_js_template_exports_the_wasi_version_componentize_js_is_built_against() {
        let js = Template::named("js").unwrap().render(&name("a"));
        let http = &js
            .iter()
            .find(|(p, _)| *p == "wit/deps/http.wit")
            .unwrap()
            .1;
        assert!(http.contains("package wasi:http@0.2.10;"), "{http}");
        assert!(!http.contains("0.2.12"));
        let py = Template::named("python").unwrap().render(&name("a"));
        let world = &py.iter().find(|(p, _)| *p == "wit/world.wit").unwrap().1;
        assert!(world.contains("wasi:http/proxy@0.2.12"), "{world}");
    }
}
