//! The README's quickstart, run as written: the shell block under **Quickstart** is read from
//! README.md and run by bash in an empty directory, so a change to either the README or the
//! commands that breaks the path a new user follows fails here.
//!
//! The script runs in an empty directory with a config dir of its own (`XDG_CONFIG_HOME`, where
//! `login` writes its profile). Three things differ from a new user's machine, and only these: the `cargo install` line is
//! skipped (the binary the tests built is first on `PATH`), the gateway listens on a free port
//! instead of 8080 (`WASMGATE_LISTEN`, and the URL in the block rewritten to match), and the
//! template builds in the shared template target dir (`CARGO_TARGET_DIR`) so wstd compiles once
//! per machine.

use std::path::Path;
use std::process::Stdio;
use wasmgate_tests::{free_port, wasmgate_bin};

/// The shell block that follows the `**Quickstart**` paragraph of `readme`.
fn quickstart_block(readme: &str) -> Vec<String> {
    let after = readme
        .split_once("**Quickstart**")
        .expect("the README has a **Quickstart** paragraph")
        .1;
    let block = after
        .split_once("```sh\n")
        .expect("a ```sh block follows the quickstart paragraph")
        .1
        .split_once("\n```")
        .expect("the block ends")
        .0;
    block.lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn the_readme_quickstart_runs_as_written_from_new_to_the_first_answer() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let lines = quickstart_block(&readme);
    assert!(
        lines.iter().any(|l| l.starts_with("wasmgate new ")),
        "{lines:?}"
    );
    let port = free_port().unwrap();
    let mut script =
        String::from("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n");
    for line in &lines {
        if line.starts_with("cargo install ") {
            continue;
        }
        script.push_str(&line.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}")));
        script.push('\n');
        // The README's reader waits for "listening"; the script waits for the port.
        if line.starts_with("wasmgate serve ") {
            script.push_str(&format!(
                "for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.1; done\n"
            ));
        }
    }
    let home = tempfile::tempdir().unwrap();
    let bin_dir = wasmgate_bin().parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let target = wasmgate_tests::cargo_target_dir().join("templates");
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(home.path())
        .env("PATH", path)
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .env("WASMGATE_LISTEN", format!("127.0.0.1:{port}"))
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("WASMGATE_URL")
        .env_remove("WASMGATE_TOKEN")
        .env_remove("WASMGATE_DATA_DIR")
        .env_remove("WASMGATE_TRUSTED_ISSUERS")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the quickstart failed:\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // The last line's comment is what it prints.
    let last = lines.last().unwrap();
    let promised = last.split_once("# ").map(|(_, c)| c.trim()).unwrap();
    assert!(
        stdout.trim_end().ends_with(promised),
        "the last command should print {promised:?}:\n{stdout}"
    );
}
