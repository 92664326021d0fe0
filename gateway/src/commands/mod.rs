//! The offline subcommands: issuer keys, signing and inspecting components.

pub mod inspect;
pub mod keys;
pub mod sign;
