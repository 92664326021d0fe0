//! Capabilities: the named grants a signed component may carry, and which WIT interfaces each covers.
//!
//! One table serves two checks that must agree: admission refuses a component importing an
//! interface its claims do not grant, and the pool links only the granted interfaces. The
//! standard network interfaces are the exception: linked for every function, every destination
//! denied without the grant ([`Need::Denied`]).

use crate::error::Error;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A host capability a component must be granted before it may import its interfaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    /// `wasi:keyvalue/*`: the host's key-value store.
    Keyvalue,
    /// `wasi:messaging/*`: publishing and request-reply on the message bus.
    Messaging,
    /// `wasi:config/*`: values from the manifest's `[config]` table.
    Config,
    /// `wasi:http/outgoing-handler` (WASI 0.2) and `wasi:http/client` (WASI 0.3): HTTP requests
    /// to other services.
    HttpOutgoing,
    /// `wasi:sockets/*`: raw TCP/UDP and name lookup.
    Sockets,
}

/// What an imported interface needs before a component may link it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Always linked: clocks, random, stdio, streams, an empty filesystem, HTTP types.
    Baseline,
    /// Linked only when the claims grant this capability.
    Capability(Capability),
    /// Always linked, but every destination is refused unless the claims grant this capability:
    /// the standard network interfaces (`wasi:http/outgoing-handler`, `wasi:sockets/*`), which
    /// language runtimes (componentize-py, componentize-js) import whether the code uses them or
    /// not. So such a component deploys without the grant and any call it makes gets the WIT
    /// error for a denied destination, as on Spin (`allowed_outbound_hosts` empty by default).
    Denied(Capability),
    /// Not something wasmgate provides; linking will refuse the component.
    Unknown,
}

/// Interface namespaces (`package/` prefixes, version ignored) every component may import.
const BASELINE: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:random/",
    "wasi:io/",
    "wasi:filesystem/",
    "wasi:http/types",
];

/// Interface prefixes each capability covers.
const COVERS: &[(&str, Capability)] = &[
    ("wasi:keyvalue/", Capability::Keyvalue),
    ("wasi:messaging/", Capability::Messaging),
    ("wasi:config/", Capability::Config),
    ("wasi:http/outgoing-handler", Capability::HttpOutgoing),
    ("wasi:http/client", Capability::HttpOutgoing),
    ("wasi:sockets/", Capability::Sockets),
];

impl Need {
    /// Whether a component importing this interface is refused at deploy by claims that grant
    /// what `granted` says: only a [`Need::Capability`] not granted. Baseline and denied-unless-
    /// granted interfaces are always linked; unknown ones are left to linking, which names them.
    /// The one rule admission and the pool's linker both apply.
    pub fn refused(self, granted: impl Fn(Capability) -> bool) -> bool {
        match self {
            Need::Capability(cap) => !granted(cap),
            Need::Denied(_) | Need::Baseline | Need::Unknown => false,
        }
    }
}

impl Capability {
    /// Every capability, in a stable order.
    pub const ALL: [Capability; 5] = [
        Capability::Keyvalue,
        Capability::Messaging,
        Capability::Config,
        Capability::HttpOutgoing,
        Capability::Sockets,
    ];

    /// Whether it is a standard network interface: linked for every function, every
    /// destination denied without the grant ([`Need::Denied`]).
    pub fn is_network(self) -> bool {
        matches!(self, Capability::HttpOutgoing | Capability::Sockets)
    }

    /// The name used in claims, on the command line and in errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Keyvalue => "keyvalue",
            Capability::Messaging => "messaging",
            Capability::Config => "config",
            Capability::HttpOutgoing => "http-outgoing",
            Capability::Sockets => "sockets",
        }
    }

    /// What importing `interface` (e.g. `wasi:http/outgoing-handler@0.2.4`) requires.
    pub fn needed_by(interface: &str) -> Need {
        if BASELINE.iter().any(|p| interface.starts_with(p)) {
            return Need::Baseline;
        }
        COVERS
            .iter()
            .find(|(prefix, _)| interface.starts_with(prefix))
            .map_or(Need::Unknown, |(_, cap)| {
                if cap.is_network() {
                    Need::Denied(*cap)
                } else {
                    Need::Capability(*cap)
                }
            })
    }
}

impl FromStr for Capability {
    type Err = Error;

    /// Parses a capability name such as `keyvalue` or `http-outgoing`.
    fn from_str(s: &str) -> Result<Self, Error> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| Error::InvalidCapability {
                input: s.to_owned(),
            })
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of capabilities, small enough to copy and hash: what one function was granted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CapabilitySet(u8);

impl CapabilitySet {
    /// No capability: only the baseline interfaces.
    pub const NONE: CapabilitySet = CapabilitySet(0);

    /// Whether `cap` is in the set.
    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    /// The set with `cap` added.
    pub fn with(self, cap: Capability) -> CapabilitySet {
        CapabilitySet(self.0 | cap.bit())
    }

    /// The members, in [`Capability::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Capability> {
        Capability::ALL
            .into_iter()
            .filter(move |c| self.contains(*c))
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter()
            .fold(CapabilitySet::NONE, CapabilitySet::with)
    }
}

impl Capability {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_exactly_what_was_added() {
        let set: CapabilitySet = [Capability::Sockets, Capability::Keyvalue]
            .into_iter()
            .collect();
        assert!(set.contains(Capability::Sockets) && set.contains(Capability::Keyvalue));
        assert!(!set.contains(Capability::HttpOutgoing));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Capability::Keyvalue, Capability::Sockets]
        );
        assert_eq!(CapabilitySet::NONE.iter().count(), 0);
    }

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for cap in Capability::ALL {
            assert_eq!(cap.as_str().parse::<Capability>().unwrap(), cap);
            let json = serde_json::to_string(&cap).unwrap();
            assert_eq!(json, format!("\"{cap}\""));
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones_listed() {
        let err = "filesystem".parse::<Capability>().unwrap_err();
        assert_eq!(err.code(), "invalid_capability");
        let msg = err.to_string();
        assert!(
            msg.contains("filesystem") && msg.contains("http-outgoing"),
            "{msg}"
        );
    }

    #[test]
    fn interfaces_map_to_what_they_need() {
        assert_eq!(
            Capability::needed_by("wasi:io/streams@0.2.0"),
            Need::Baseline
        );
        assert_eq!(
            Capability::needed_by("wasi:http/types@0.2.4"),
            Need::Baseline
        );
        assert_eq!(
            Capability::needed_by("wasi:http/outgoing-handler@0.2.4"),
            Need::Denied(Capability::HttpOutgoing)
        );
        assert_eq!(
            Capability::needed_by("wasi:keyvalue/store@0.2.0-draft"),
            Need::Capability(Capability::Keyvalue)
        );
        assert_eq!(
            Capability::needed_by("wasi:sockets/tcp@0.2.0"),
            Need::Denied(Capability::Sockets)
        );
        assert_eq!(
            Capability::needed_by("wasi:http/client@0.3.0"),
            Need::Denied(Capability::HttpOutgoing)
        );
        assert_eq!(
            Capability::needed_by("wasi:cli/types@0.3.0"),
            Need::Baseline
        );
        // wasmgate links no upstream handler (the `wasi:http/middleware` world).
        assert_eq!(
            Capability::needed_by("wasi:http/handler@0.3.0"),
            Need::Unknown
        );
        assert_eq!(Capability::needed_by("acme:evil/thing"), Need::Unknown);
    }
}
