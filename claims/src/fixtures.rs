//! Small real WebAssembly inputs for tests, benches and fuzzing, built with wasm-encoder
//! (feature `fixtures`): no test input is a committed `.wasm` file.

use crate::section::append_token;
use wasm_encoder::{
    CodeSection, Component, ComponentExportKind, ComponentExportSection, ComponentImportSection,
    ComponentTypeRef, ComponentTypeSection, ConstExpr, CustomSection, DataSection, EntityType,
    ExportKind, ExportSection, Function, FunctionSection, ImportSection, InstanceType,
    MemorySection, MemoryType, Module, ModuleSection, TypeSection, ValType,
};

/// The interface the import-export component imports.
pub const IMPORTED: &str = "wasi:http/outgoing-handler@0.2.4";

/// The interface the import-export component exports.
pub const EXPORTED: &str = "acme:demo/api@1.0.0";

/// An empty component: just the 8-byte preamble.
pub fn empty_component() -> Vec<u8> {
    Component::new().finish()
}

/// A core module with a memory, one function and an active data segment of `data_len` bytes.
pub fn core_module(data_len: usize) -> Vec<u8> {
    module_with(data_len, None).finish()
}

/// A core module that imports a function, as a preview-1 program would.
pub fn core_module_with_import() -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32; 4], [ValType::I32]);
    module.section(&types);
    let mut imports = ImportSection::new();
    imports.import(
        "wasi_snapshot_preview1",
        "fd_write",
        EntityType::Function(0),
    );
    module.section(&imports);
    let mut exports = ExportSection::new();
    exports.export("fd_write_again", ExportKind::Func, 0);
    module.section(&exports);
    module.finish()
}

/// A component holding one nested core module with code and `data_len` bytes of data.
///
/// When `nested_jwt` is given, the nested module carries its own custom section named `jwt`.
pub fn component_with_module(data_len: usize, nested_jwt: Option<&str>) -> Vec<u8> {
    let module = module_with(data_len, nested_jwt);
    let mut component = Component::new();
    component.section(&ModuleSection(&module));
    component.finish()
}

/// A component importing [`IMPORTED`] as an empty instance and exporting it as [`EXPORTED`].
pub fn component_with_import_and_export() -> Vec<u8> {
    let mut component = Component::new();
    let mut types = ComponentTypeSection::new();
    types.instance(&InstanceType::new());
    component.section(&types);
    let mut imports = ComponentImportSection::new();
    imports.import(IMPORTED, ComponentTypeRef::Instance(0));
    component.section(&imports);
    let mut exports = ComponentExportSection::new();
    exports.export(EXPORTED, ComponentExportKind::Instance, 0, None);
    component.section(&exports);
    component.finish()
}

/// `component` with `token` appended as one more top-level `jwt` section, as-is.
pub fn with_token(component: &[u8], token: &str) -> Vec<u8> {
    let mut out = component.to_vec();
    append_token(&mut out, token);
    out
}

/// `component` with a top-level custom section `name` holding `data` appended.
pub fn with_custom(component: &[u8], name: &str, data: &[u8]) -> Vec<u8> {
    let mut out = component.to_vec();
    out.push(u8::from(wasm_encoder::SectionId::Custom));
    wasm_encoder::Encode::encode(
        &CustomSection {
            name: name.into(),
            data: data.into(),
        },
        &mut out,
    );
    out
}

fn module_with(data_len: usize, custom_jwt: Option<&str>) -> Module {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(0);
    module.section(&functions);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 2,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("run", ExportKind::Func, 0);
    exports.export("memory", ExportKind::Memory, 0);
    module.section(&exports);
    let mut code = CodeSection::new();
    let mut run = Function::new([(1, ValType::I32)]);
    run.instructions()
        .local_get(0)
        .i32_const(7)
        .i32_mul()
        .local_tee(1)
        .i32_load(wasm_encoder::MemArg {
            offset: 16,
            align: 2,
            memory_index: 0,
        })
        .local_get(1)
        .i32_add()
        .end();
    code.function(&run);
    module.section(&code);
    let mut data = DataSection::new();
    let bytes: Vec<u8> = (0..data_len).map(|i| (i * 31 % 251) as u8).collect();
    data.active(0, &ConstExpr::i32_const(64), bytes);
    module.section(&data);
    if let Some(text) = custom_jwt {
        module.section(&CustomSection {
            name: "jwt".into(),
            data: text.as_bytes().into(),
        });
    }
    module
}

/// Whether `bytes` pass wasmparser's full validation, so fixtures are known to be real wasm.
pub fn validates(bytes: &[u8]) -> bool {
    wasmparser::Validator::new().validate_all(bytes).is_ok()
}
