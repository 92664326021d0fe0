use super::*;
use crate::fixtures::{
    EXPORTED, IMPORTED, component_with_import_and_export, component_with_module,
    core_module_with_import, empty_component, validates, with_token,
};

#[test]
fn a_component_lists_its_top_level_imports_and_exports() {
    let component = component_with_import_and_export();
    assert!(validates(&component));
    let info = component_info(&component).unwrap();
    assert_eq!(info.imports, [IMPORTED]);
    assert_eq!(info.exports, [EXPORTED]);
    assert_eq!(
        component_info(&with_token(&component, "a.b.c")).unwrap(),
        info
    );
}

#[test]
fn a_nested_module_is_internal_wiring() {
    let info = component_info(&component_with_module(8, None)).unwrap();
    assert_eq!(info, ComponentInfo::default());
    assert_eq!(
        component_info(&empty_component()).unwrap(),
        ComponentInfo::default()
    );
}

#[test]
fn a_core_module_lists_module_and_name_pairs() {
    let module = core_module_with_import();
    assert!(validates(&module));
    let info = component_info(&module).unwrap();
    assert_eq!(info.imports, ["wasi_snapshot_preview1::fd_write"]);
    assert_eq!(info.exports, ["fd_write_again"]);
}

#[test]
fn bytes_that_are_not_webassembly_are_refused() {
    let err = component_info(b"\x7fELF").unwrap_err();
    assert_eq!(err.code(), "invalid_component");
}

#[test]
fn ungranted_lists_capability_imports_missing_from_the_grant_and_denied_the_network_ones() {
    let imports: Vec<String> = [
        "wasi:keyvalue/store@0.2.0-draft",
        "wasi:io/streams@0.2.0",
        "wasi:http/types@0.2.4",
        "wasi:http/outgoing-handler@0.2.4",
        "wasi:keyvalue/atomics@0.2.0-draft",
        "acme:evil/thing",
        "wasi:sockets/tcp@0.2.0",
        "wasi:keyvalue/store@0.2.0-draft",
    ]
    .map(String::from)
    .to_vec();
    // Network interfaces are linked for every function: never a reason to refuse.
    assert_eq!(
        ungranted(&imports, &[Capability::HttpOutgoing]),
        [
            "wasi:keyvalue/atomics@0.2.0-draft",
            "wasi:keyvalue/store@0.2.0-draft",
        ]
    );
    assert!(ungranted(&imports, &[Capability::Keyvalue]).is_empty());
    assert!(ungranted(&imports, &Capability::ALL).is_empty());
    assert!(ungranted(&[], &[]).is_empty());
    // ... but without their grant every destination is denied, and the deploy answer says so.
    assert_eq!(
        denied(&imports, &[Capability::Keyvalue]),
        ["wasi:http/outgoing-handler@0.2.4", "wasi:sockets/tcp@0.2.0"]
    );
    assert_eq!(
        denied(&imports, &[Capability::Sockets]),
        ["wasi:http/outgoing-handler@0.2.4"]
    );
    assert!(denied(&imports, &Capability::ALL).is_empty());
}
