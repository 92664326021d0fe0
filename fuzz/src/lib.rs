//! Shared set-up for the wasmgate fuzz targets: a fixed signing key, small real components built
//! with wasm-encoder, and an independent reader and writer of a binary's top-level sections.
//!
//! Nothing here is fuzzed itself. Targets build their seeds from it in-process, so the corpus holds
//! only edit scripts and fuzzer-found bytes, never committed `.wasm` files.

mod binary;
mod component;
mod key;

pub use binary::{Section, Split, frame_custom, frame_section, split};
pub use component::{
    MESSAGE_HANDLER_EXPORT, core_module, empty_component, import_and_export, keyvalue_importer,
    message_handler, nested_module,
};
pub use key::{SEED, fixed_key};
