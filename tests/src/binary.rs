//! Finds (building once) the `wasmgate` binary the tests run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Path of the `wasmgate` binary, built once per test process with the same profile as the tests.
///
/// `cargo test --workspace` does not build a binary that no test of its own package needs, and
/// `CARGO_BIN_EXE_wasmgate` exists only inside the `wasmgate` package, so this runs
/// `cargo build -p wasmgate --bin wasmgate` (a no-op when it is up to date).
///
/// # Panics
///
/// When the build fails: every end-to-end test needs the binary.
pub fn wasmgate_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ lives inside the workspace");
        let release = !cfg!(debug_assertions);
        let mut cmd = Command::new(cargo);
        cmd.current_dir(workspace)
            .args(["build", "-p", "wasmgate", "--bin", "wasmgate"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the wasmgate binary failed");
        target_dir(workspace)
            .join(if release { "release" } else { "debug" })
            .join("wasmgate")
    })
}

/// cargo's target dir: `CARGO_TARGET_DIR`, else derived from this test executable's location.
/// The cargo target dir the tests were built in: `CARGO_TARGET_DIR`, else the one holding the
/// test executable, else the workspace's `target/`.
pub fn cargo_target_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives inside the workspace");
    target_dir(workspace)
}

fn target_dir(workspace: &Path) -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return if dir.is_absolute() {
            dir
        } else {
            workspace.join(dir)
        };
    }
    // <target>/<profile>/deps/<test-exe>
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| workspace.join("target"))
}
