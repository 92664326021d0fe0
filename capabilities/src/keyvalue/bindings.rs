//! Rust bindings generated from `wit/keyvalue`, with every import async and errors trappable.

wasmtime::component::bindgen!({
    path: "wit/keyvalue",
    world: "wasi:keyvalue/imports",
    imports: { default: async | trappable },
    with: {
        "wasi:keyvalue/store.bucket": crate::keyvalue::host::Bucket,
    },
    trappable_error_type: {
        "wasi:keyvalue/store.error" => crate::Error,
    },
});
