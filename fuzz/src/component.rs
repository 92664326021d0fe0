//! Small real components and modules, built with wasm-encoder, to sign and deploy while fuzzing.

use wasm_encoder::{
    CodeSection, Component, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentInstanceSection, ComponentTypeRef, ComponentTypeSection, ConstExpr, CustomSection,
    DataSection, ExportKind, ExportSection, Function, FunctionSection, InstanceType, MemorySection,
    MemoryType, Module, ModuleSection, TypeSection, ValType,
};

/// The export that makes a component an event handler, so the gateway deploys it without an
/// HTTP handler. An empty instance under this name is enough to compile and link.
pub const MESSAGE_HANDLER_EXPORT: &str = "wasi:messaging/incoming-handler@0.2.0-draft";

/// An import that needs the `keyvalue` grant.
const KEYVALUE_IMPORT: &str = "wasi:keyvalue/store@0.2.0-draft";

/// An interface no capability covers.
const OTHER_EXPORT: &str = "acme:demo/api@1.0.0";

/// The 8-byte preamble alone.
pub fn empty_component() -> Vec<u8> {
    Component::new().finish()
}

/// A component exporting an empty instance as [`MESSAGE_HANDLER_EXPORT`]: the smallest thing the
/// gateway deploys (no code, so compiling it is cheap).
pub fn message_handler() -> Vec<u8> {
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
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

/// [`message_handler`] that also imports the key-value store, so it needs the `keyvalue` grant.
pub fn keyvalue_importer() -> Vec<u8> {
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(KEYVALUE_IMPORT, ComponentTypeRef::Instance(0));
    component.section(&imports);
    let mut exports = ComponentExportSection::new();
    // Instance 0 is the import: re-exporting it is enough to count as a message handler.
    exports.export(
        MESSAGE_HANDLER_EXPORT,
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

/// A component importing an empty instance and exporting it under another interface name.
pub fn import_and_export() -> Vec<u8> {
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(
        "wasi:http/outgoing-handler@0.2.4",
        ComponentTypeRef::Instance(0),
    );
    component.section(&imports);
    let mut exports = ComponentExportSection::new();
    exports.export(OTHER_EXPORT, ComponentExportKind::Instance, 0, None);
    component.section(&exports);
    component.finish()
}

/// A component holding one core module with code and data, whose own custom section is named
/// `jwt` (nested, so it is content, not a signature).
pub fn nested_module() -> Vec<u8> {
    let mut module = module_parts();
    module.section(&CustomSection {
        name: "jwt".into(),
        data: b"nested.not.a-signature".as_slice().into(),
    });
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// A core module with a memory, one function and a data segment.
pub fn core_module() -> Vec<u8> {
    module_parts().finish()
}

fn module_parts() -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 1,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut run = Function::new([]);
    run.instructions().local_get(0).i32_const(7).i32_mul().end();
    code.function(&run);
    module.section(&code);
    let mut data = DataSection::new();
    data.active(0, &ConstExpr::i32_const(16), b"wasmgate".iter().copied());
    module.section(&data);
    module
}
