//! Small real components and modules, built with wasm-encoder, to sign and deploy while fuzzing.

use wasm_encoder::{
    Component, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentInstanceSection, ComponentTypeRef, ComponentTypeSection, InstanceType,
};
use wasmgate_claims::fixtures;

/// The export that makes a component an event handler, so the gateway deploys it without an
/// HTTP handler. An empty instance under this name is enough to compile and link.
pub const MESSAGE_HANDLER_EXPORT: &str = "wasi:messaging/incoming-handler@0.2.0-draft";

/// An import that needs the `keyvalue` grant.
const KEYVALUE_IMPORT: &str = "wasi:keyvalue/store@0.2.0-draft";

/// A component exporting an empty instance as [`MESSAGE_HANDLER_EXPORT`]: the smallest thing the
/// gateway deploys (no code, so compiling it is cheap).
pub fn message_handler() -> Vec<u8> {
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
    exporting_instance_0_as_message_handler(component)
}

/// [`message_handler`] that also imports the key-value store, so it needs the `keyvalue` grant.
pub fn keyvalue_importer() -> Vec<u8> {
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(KEYVALUE_IMPORT, ComponentTypeRef::Instance(0));
    component.section(&imports);
    // Instance 0 is the import: re-exporting it is enough to count as a message handler.
    exporting_instance_0_as_message_handler(component)
}

/// `component` finished with its instance 0 exported as [`MESSAGE_HANDLER_EXPORT`].
fn exporting_instance_0_as_message_handler(mut component: Component) -> Vec<u8> {
    let mut exports = ComponentExportSection::new();
    exports.export(
        MESSAGE_HANDLER_EXPORT,
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

/// The 8-byte preamble alone.
pub fn empty_component() -> Vec<u8> {
    fixtures::empty_component()
}

/// A component importing an empty instance and exporting it under an interface no capability
/// covers.
pub fn import_and_export() -> Vec<u8> {
    fixtures::component_with_import_and_export()
}

/// A component holding one core module with code and data, whose own custom section is named
/// `jwt` (nested, so it is content, not a signature).
pub fn nested_module() -> Vec<u8> {
    fixtures::component_with_module(8, Some("nested.not.a-signature"))
}

/// A core module with a memory, one function and a data segment.
pub fn core_module() -> Vec<u8> {
    fixtures::core_module(8)
}
