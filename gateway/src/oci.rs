//! Components as OCI artifacts: `wasmgate push FILE oci://REGISTRY/REPO:TAG` and deploys that
//! name an `oci://` reference which the gateway pulls, verifies and deploys like an upload.
//!
//! The layout is the Wasm OCI artifact of the CNCF TAG Runtime's wasm working group
//! (<https://tag-runtime.cncf.io/wgs/wasm/deliverables/wasm-oci-artifact/>), the one `wkg oci
//! push` writes: an OCI image manifest whose config has the media type
//! `application/vnd.wasm.config.v0+json` and whose one layer is the component,
//! `application/wasm`. The registry is spoken to by the OCI Distribution Specification v1.1
//! (<https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md>), with the token
//! flow of the Docker registry (<https://distribution.github.io/distribution/spec/auth/token/>)
//! when the registry asks for it.
//!
//! - [`reference`](mod@reference): `oci://` references.
//! - [`artifact`]: the manifest and config of a component, written for a push and checked on a pull.
//! - [`distribution`]: manifests and blobs over HTTP, with the registry's challenge answered.
//! - [`pull`]: the gateway's pull, behind the egress guard, with the operator's credentials.
//!
//! The client is ours rather than the `oci-client` crate's: a pull is aimed by whoever deploys,
//! so every connection, the token service's and a blob redirect's included, must go through the
//! egress guard's resolver, and `oci-client` builds its own HTTP client. The wire types and the
//! reference grammar are the `oci-spec` crate's.

pub mod artifact;
pub mod distribution;
mod error;
pub mod pull;
pub mod reference;

pub use error::OciError;
pub use reference::OciReference;
