//! Which WASI release a component is built for, told from the interface names it exports and
//! imports: the pool links and calls it by that release, `inspect` and deploy answers name it.

use serde::Serialize;
use std::fmt;

/// A WASI release line with its own HTTP entry point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum WasiVersion {
    /// WASI 0.2: exports `wasi:http/incoming-handler@0.2.x`, whose response goes through a
    /// `response-outparam`, with `wasi:io` streams and pollables.
    #[serde(rename = "0.2")]
    P2,
    /// WASI 0.3: exports `wasi:http/handler@0.3.x`, an `async func` returning the response,
    /// with bodies as component-model `stream<u8>` and trailers as a `future`.
    #[serde(rename = "0.3")]
    P3,
}

impl WasiVersion {
    /// The release as users write it: `0.2` or `0.3`.
    pub fn as_str(self) -> &'static str {
        match self {
            WasiVersion::P2 => "0.2",
            WasiVersion::P3 => "0.3",
        }
    }
}

impl fmt::Display for WasiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a component targets: the release, and the interface name (with its version) that told it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WasiTarget {
    /// The release line.
    pub version: WasiVersion,
    /// The exported (or, without a known export, imported) interface it was told from, e.g.
    /// `wasi:http/handler@0.3.0`.
    pub interface: String,
}

/// The WASI 0.2 HTTP entry point, without its patch version.
const P2_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// The WASI 0.3 HTTP entry point, without its patch version.
const P3_HANDLER: &str = "wasi:http/handler@0.3.";

/// The `wasi:http` release this gateway implements for 0.3 (wasmtime-wasi-http 48's WIT).
pub const SERVED_P3: &str = "0.3.0";

impl WasiTarget {
    /// Tells the target from a component's top-level export and import names.
    ///
    /// The HTTP handler it exports decides. Without one (a message handler, a library), the first
    /// `wasi:` interface in the exports, then the imports, decides by its `@0.2`/`@0.3` version.
    /// `None` when nothing names a WASI release (a core module, a component with no WASI at all).
    pub fn detect<'a>(
        exports: impl IntoIterator<Item = &'a str>,
        imports: impl IntoIterator<Item = &'a str>,
    ) -> Option<WasiTarget> {
        let exports: Vec<&str> = exports.into_iter().collect();
        let handler = exports.iter().find_map(|name| {
            let version = if name.starts_with(P3_HANDLER) {
                WasiVersion::P3
            } else if name.starts_with(P2_HANDLER) {
                WasiVersion::P2
            } else {
                return None;
            };
            Some(WasiTarget {
                version,
                interface: (*name).to_owned(),
            })
        });
        handler.or_else(|| {
            exports.into_iter().chain(imports).find_map(|name| {
                Some(WasiTarget {
                    version: release_of(name)?,
                    interface: name.to_owned(),
                })
            })
        })
    }

    /// Whether this gateway can serve the target, and if not, why and what to do.
    ///
    /// WASI 0.2.x and 0.3.x releases link against wasmtime's implementations by semver; release
    /// candidates (`0.3.0-rc-2025-…`) have their own, incompatible interfaces and are refused.
    pub fn served(&self) -> Result<(), String> {
        let version = self
            .interface
            .rsplit_once('@')
            .map_or("", |(_, version)| version);
        if version.contains('-') {
            return Err(format!(
                "`{}` is a pre-release of WASI {}, which this gateway does not implement; \
                 rebuild against wasi:http@{} (spin-sdk 7, wasip3 0.7 or later)",
                self.interface,
                self.version,
                match self.version {
                    WasiVersion::P2 => "0.2.x",
                    WasiVersion::P3 => SERVED_P3,
                }
            ));
        }
        Ok(())
    }
}

impl fmt::Display for WasiTarget {
    /// `0.3 (wasi:http/handler@0.3.0)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.version, self.interface)
    }
}

/// Packages released together as WASI 0.2.x / 0.3.x. Proposals versioned on their own
/// (`wasi:keyvalue@0.2.0-draft`, `wasi:messaging@0.2.0-draft`, `wasi:config@0.2.0-rc.1`) name no
/// WASI release: a message handler exporting only `wasi:messaging/incoming-handler` is told by
/// its imports instead.
const RELEASED_PACKAGES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:http/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
];

/// The release a `wasi:` interface name belongs to, by its `@0.2`/`@0.3` version; `None` for
/// anything outside [`RELEASED_PACKAGES`].
fn release_of(name: &str) -> Option<WasiVersion> {
    let (package, version) = name.rsplit_once('@')?;
    if !RELEASED_PACKAGES.iter().any(|p| package.starts_with(p)) {
        return None;
    }
    if version.starts_with("0.3.") {
        Some(WasiVersion::P3)
    } else if version.starts_with("0.2.") {
        Some(WasiVersion::P2)
    } else {
        None
    }
}

#[cfg(test)]
mod tests;
