use super::*;

fn detect(exports: &[&str], imports: &[&str]) -> Option<WasiTarget> {
    WasiTarget::detect(exports.iter().copied(), imports.iter().copied())
}

#[test]
fn the_exported_http_handler_names_the_release() {
    let p2 = detect(
        &["wasi:http/incoming-handler@0.2.6"],
        &["wasi:io/streams@0.2.6"],
    )
    .unwrap();
    assert_eq!(p2.version, WasiVersion::P2);
    assert_eq!(p2.to_string(), "0.2 (wasi:http/incoming-handler@0.2.6)");
    assert_eq!(p2.served(), Ok(()));

    // Rust's std on wasm32-wasip2 still imports WASI 0.2: the export decides.
    let p3 = detect(
        &["wasi:http/handler@0.3.0"],
        &["wasi:cli/environment@0.2.6", "wasi:http/types@0.3.0"],
    )
    .unwrap();
    assert_eq!(p3.version, WasiVersion::P3);
    assert_eq!(p3.to_string(), "0.3 (wasi:http/handler@0.3.0)");
    assert_eq!(p3.served(), Ok(()));
}

#[test]
fn without_an_http_handler_the_first_wasi_interface_decides() {
    let messages = detect(
        &["wasi:messaging/incoming-handler@0.2.0-draft"],
        &["wasi:io/streams@0.2.0"],
    )
    .unwrap();
    assert_eq!(messages.version, WasiVersion::P2);
    // A proposal's own draft version is no WASI pre-release: told by the imports, and served.
    assert_eq!(messages.interface, "wasi:io/streams@0.2.0");
    assert_eq!(messages.served(), Ok(()));
    let imports_only = detect(&["acme:app/run"], &["wasi:clocks/types@0.3.0"]).unwrap();
    assert_eq!(imports_only.version, WasiVersion::P3);
    assert_eq!(detect(&["acme:app/run"], &["acme:app/host@1.0.0"]), None);
    assert_eq!(detect(&[], &[]), None);
}

#[test]
fn release_candidates_are_not_served_and_say_what_to_rebuild_against() {
    let rc = detect(&["wasi:http/handler@0.3.0-rc-2025-09-16"], &[]).unwrap();
    assert_eq!(rc.version, WasiVersion::P3);
    let why = rc.served().unwrap_err();
    assert!(
        why.contains("pre-release") && why.contains("wasi:http@0.3.0"),
        "{why}"
    );
}

#[test]
fn versions_serialize_as_users_write_them() {
    assert_eq!(serde_json::to_string(&WasiVersion::P3).unwrap(), "\"0.3\"");
    assert_eq!(WasiVersion::P2.to_string(), "0.2");
}
