//! Signed claims for wasmgate components: issuer keys ([`SigningKey`], [`IssuerKey`]),
//! [`sign`]ing a component by embedding a standard EdDSA JWT of its [`Claims`] in a top-level
//! custom section named `jwt`, reading it back ([`extract`], [`decode_unverified`]), and
//! [`verify`]ing a signed component against the trusted issuers: issuer, signature, the
//! SHA-256 [`module_hash`] of everything but the `jwt` section, and the validity window.
//! [`component_info`] and [`ungranted`] list what a component imports and which imports its
//! claims do not grant.
//!
//! It does no I/O: bytes and text in, bytes and text out, with the clock passed in as `now`.
//! Reading key files, matching `sub` against the deploy name, mapping [`Error::code`] to an
//! HTTP status and asking the policy engine are the callers' jobs.
//!
//! ```no_run
//! use std::time::{Duration, SystemTime};
//! use wasmgate_claims::{SignOptions, SigningKey, verify};
//! use wasmgate_config::Capability;
//!
//! # fn main() -> Result<(), wasmgate_claims::Error> {
//! let component = std::fs::read("hello.wasm").expect("read the component");
//! let key = SigningKey::generate();
//! let opts = SignOptions {
//!     name: "hello".into(),
//!     caps: vec![Capability::Keyvalue],
//!     expires_in: Some(Duration::from_secs(30 * 24 * 3600)),
//!     ..SignOptions::default()
//! };
//! let signed = wasmgate_claims::sign(&component, &key, &opts, SystemTime::now())?;
//!
//! let verified = verify(&signed, &[key.issuer()], SystemTime::now())?;
//! assert_eq!(verified.claims.sub, "hello");
//! let info = wasmgate_claims::component_info(&signed)?;
//! assert!(wasmgate_claims::ungranted(&info.imports, &verified.claims.wasmgate.caps).is_empty());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod claims;
mod component_info;
mod error;
mod key;
mod section;
mod sign;
mod token;
mod verify;

#[cfg(any(test, feature = "fixtures"))]
pub mod fixtures;

pub use claims::{Claims, WasmgateClaims};
pub use component_info::{ComponentInfo, component_info, denied, ungranted};
pub use error::{Error, Result};
pub use key::{IssuerKey, SigningKey};
pub use section::{JWT_SECTION, extract, module_hash, strip};
pub use sign::{SignOptions, sign};
pub use token::decode_unverified;
pub use verify::{NBF_LEEWAY_SECS, Verified, check_expiry, check_window, verify};
