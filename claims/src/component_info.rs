//! What a component imports and exports, and which of its imports its claims do not grant.

use crate::error::{Error, Result};
use crate::section::top_level;
use wasmgate_config::{Capability, Need};
use wasmparser::Payload;

/// The names a component imports (e.g. `wasi:http/outgoing-handler@0.2.4`) and exports.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentInfo {
    /// Top-level import names in section order; `module::name` for a core module.
    pub imports: Vec<String>,
    /// Top-level export names in section order.
    pub exports: Vec<String>,
}

/// Lists the top-level imports and exports of a component or core module.
///
/// Imports and exports of nested modules and components are internal wiring and not listed.
pub fn component_info(component: &[u8]) -> Result<ComponentInfo> {
    let mut info = ComponentInfo::default();
    for payload in top_level(component) {
        match payload? {
            Payload::ComponentImportSection(reader) => {
                for import in reader {
                    info.imports
                        .push(import.map_err(invalid)?.name.name.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) => {
                for export in reader {
                    info.exports
                        .push(export.map_err(invalid)?.name.name.to_owned());
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    let import = import.map_err(invalid)?;
                    info.imports
                        .push(format!("{}::{}", import.module, import.name));
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    info.exports.push(export.map_err(invalid)?.name.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// The imports that need a capability missing from `caps`, sorted and without duplicates.
///
/// Baseline interfaces are always allowed. Interfaces wasmgate does not provide at all are not
/// listed either: no grant could make them link, and linking reports them.
pub fn ungranted(imports: &[String], caps: &[Capability]) -> Vec<String> {
    let mut missing: Vec<String> = imports
        .iter()
        .filter(|import| Capability::needed_by(import).refused(|cap| caps.contains(&cap)))
        .cloned()
        .collect();
    missing.sort_unstable();
    missing.dedup();
    missing
}

/// The network imports linked for this component with every destination denied, because `caps`
/// lacks their capability ([`Need::Denied`]), sorted and without duplicates: what a deploy
/// answer lists as "linked, denied".
pub fn denied(imports: &[String], caps: &[Capability]) -> Vec<String> {
    let mut denied: Vec<String> = imports
        .iter()
        .filter(|import| {
            matches!(Capability::needed_by(import), Need::Denied(cap) if !caps.contains(&cap))
        })
        .cloned()
        .collect();
    denied.sort_unstable();
    denied.dedup();
    denied
}

fn invalid(e: wasmparser::BinaryReaderError) -> Error {
    Error::InvalidComponent {
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests;
