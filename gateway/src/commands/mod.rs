//! The subcommands besides `serve`: the offline ones (issuer keys, signing and inspecting
//! components, new projects from templates) and the clients of a running gateway's admin API
//! (`login`, `deploy`, `call`, `ls`, `rm`, `logs`) and of a registry (`push`).

pub mod call;
pub mod client;
pub mod deploy;
pub mod functions;
pub mod inspect;
pub mod keys;
pub mod login;
pub mod logs;
pub mod new;
pub mod profile;
pub mod push;
pub mod sign;
