//! Signing with every claim option, for tests that need more than a capability list (host lists).

use crate::gateway::Gateway;
use anyhow::Context;
use std::time::SystemTime;
use wasmgate_claims::SignOptions;

impl Gateway {
    /// The component at `wasm`, signed by [`key`](Gateway::key) for `name` with `options`
    /// (its `name` is replaced by `name`).
    pub fn sign_with(
        &self,
        wasm: &str,
        name: &str,
        options: SignOptions,
    ) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(wasm).with_context(|| format!("reading {wasm}"))?;
        let options = SignOptions {
            name: name.to_owned(),
            ..options
        };
        Ok(wasmgate_claims::sign(
            &bytes,
            self.key(),
            &options,
            SystemTime::now(),
        )?)
    }
}
