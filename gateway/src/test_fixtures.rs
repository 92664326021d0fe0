//! What the gateway's unit tests share: the smallest deployable component, and a gateway on a
//! temp data dir trusting one key.

use crate::state::Gateway;
use std::sync::Arc;
use wasm_encoder::{
    Component, ComponentExportKind, ComponentExportSection, ComponentInstanceSection,
};
use wasmgate_claims::SigningKey;
use wasmgate_config::{PoolSettings, Settings};

/// The smallest component the gateway deploys: an empty instance exported as a message handler.
pub fn message_handler() -> Vec<u8> {
    let mut component = Component::new();
    let mut instances = ComponentInstanceSection::new();
    instances.export_items(Vec::<(&str, ComponentExportKind, u32)>::new());
    component.section(&instances);
    let mut exports = ComponentExportSection::new();
    exports.export(
        "wasi:messaging/incoming-handler@0.2.0-draft",
        ComponentExportKind::Instance,
        0,
        None,
    );
    component.section(&exports);
    component.finish()
}

/// The settings of a small gateway on `data_dir` trusting `key`.
pub fn settings(data_dir: &std::path::Path, key: &SigningKey) -> Settings {
    let defaults = Settings::default();
    Settings {
        data_dir: data_dir.to_owned(),
        trusted_issuers: vec![key.issuer().to_string()],
        pool: PoolSettings {
            instances: 4,
            ..defaults.pool.clone()
        },
        ..defaults
    }
}

/// A gateway on `data_dir` trusting `key`, restored and ready.
pub async fn gateway(data_dir: &std::path::Path, key: &SigningKey) -> Arc<Gateway> {
    Gateway::open(settings(data_dir, key)).await.unwrap()
}
