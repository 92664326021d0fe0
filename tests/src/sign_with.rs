//! Signing with every claim option, for tests that need more than a capability list (host lists).

use crate::gateway::Gateway;
use anyhow::Context;
use std::time::SystemTime;
use wasmgate_claims::SignOptions;

impl Gateway {
    /// The component at `wasm`, signed by [`key`](Gateway::key) for `name` with `options`
    /// (its `name` is replaced by `name`; without `expires_in` it is valid for
    /// [`SIGNED_FOR`](crate::SIGNED_FOR), as gateways require an expiry by default).
    pub fn sign_with(
        &self,
        wasm: &str,
        name: &str,
        options: SignOptions,
    ) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(wasm).with_context(|| format!("reading {wasm}"))?;
        let options = SignOptions {
            name: name.to_owned(),
            expires_in: options.expires_in.or(Some(crate::SIGNED_FOR)),
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
