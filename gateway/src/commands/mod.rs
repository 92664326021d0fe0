//! The offline subcommands: issuer keys, signing and inspecting components, new projects.

pub mod inspect;
pub mod keys;
pub mod new;
pub mod sign;
