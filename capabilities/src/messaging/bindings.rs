//! Host bindings generated from `capabilities/wit/messaging` (`wasi:messaging@0.2.0-draft`).
//!
//! Calls that reach the bus are async; message accessors are plain. Every import is
//! trappable, so host faults trap while bus failures become the WIT `error`.

#![allow(
    missing_docs,
    reason = "generated code; the WIT files carry the documentation"
)]

wasmtime::component::bindgen!({
    path: "wit/messaging",
    world: "wasi:messaging/messaging-request-reply",
    imports: {
        "wasi:messaging/producer.send": async | trappable,
        "wasi:messaging/request-reply.request": async | trappable,
        "wasi:messaging/request-reply.reply": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "wasi:messaging/types.client": super::host::Client,
        "wasi:messaging/types.message": super::host::GuestMessage,
        "wasi:messaging/request-reply.request-options": super::host::RequestOptions,
    },
});
