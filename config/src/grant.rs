//! A capability grant as written on the command line: `keyvalue`, or a capability that reaches
//! the network with the hosts it may reach (`http-outgoing=api.example.com,*.svc.example.com:8443`).

use crate::capability::Capability;
use crate::error::{Error, Result};
use crate::host_pattern::HostPattern;
use std::str::FromStr;

/// One `--cap` value: a capability and, for one that reaches the network, an optional host list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    /// The capability granted.
    pub capability: Capability,
    /// The only hosts it may reach; `None` reaches any public address.
    pub hosts: Option<Vec<HostPattern>>,
}

impl FromStr for Grant {
    type Err = Error;

    /// Parses `CAP` or `CAP=PATTERN,PATTERN,...`.
    fn from_str(text: &str) -> Result<Self> {
        let Some((name, list)) = text.split_once('=') else {
            return Ok(Grant {
                capability: text.parse()?,
                hosts: None,
            });
        };
        let capability: Capability = name.parse()?;
        let hosts = list
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<HostPattern>>>()?;
        capability.check_hosts(&hosts)?;
        Ok(Grant {
            capability,
            hosts: Some(hosts),
        })
    }
}

impl Capability {
    /// Whether a grant of this capability may carry a host list: those that reach the network.
    pub fn takes_hosts(self) -> bool {
        matches!(self, Capability::HttpOutgoing | Capability::Sockets)
    }

    /// Checks that `hosts` is a host list this capability can use: only `http-outgoing` and
    /// `sockets` take one, and `sockets` connects to addresses, so its entries must be addresses
    /// or ranges (a name in it could never match).
    pub fn check_hosts(self, hosts: &[HostPattern]) -> Result<()> {
        let refuse = |reason: String| {
            Err(Error::InvalidGrant {
                capability: self.as_str().to_owned(),
                reason,
            })
        };
        if !self.takes_hosts() {
            return refuse(
                "only http-outgoing and sockets take a host list; grant it without `=`".into(),
            );
        }
        if self == Capability::Sockets
            && let Some(name) = hosts.iter().find(|h| !h.is_address())
        {
            return refuse(format!(
                "`{name}` is a host name, but a socket connects to an address: list IP addresses or CIDR ranges such as `203.0.113.7` or `10.1.0.0/16:5432`"
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_capability_has_no_list_and_a_list_is_split_on_commas() {
        let g: Grant = "keyvalue".parse().unwrap();
        assert_eq!((g.capability, g.hosts), (Capability::Keyvalue, None));
        let g: Grant = "http-outgoing=api.example.com,*.svc.example.com:8443"
            .parse()
            .unwrap();
        assert_eq!(g.capability, Capability::HttpOutgoing);
        let hosts: Vec<String> = g.hosts.unwrap().iter().map(|h| h.to_string()).collect();
        assert_eq!(hosts, ["api.example.com", "*.svc.example.com:8443"]);
    }

    #[test]
    fn lists_are_refused_where_they_cannot_work_with_the_fix_named() {
        let e = "keyvalue=a.example".parse::<Grant>().unwrap_err();
        assert!(
            e.to_string().contains("only http-outgoing and sockets"),
            "{e}"
        );
        let e = "sockets=db.internal".parse::<Grant>().unwrap_err();
        let message = e.to_string();
        assert!(
            message.contains("db.internal") && message.contains("CIDR"),
            "{message}"
        );
        assert!(
            "sockets=10.0.0.0/8:5432,[fd00::/8]"
                .parse::<Grant>()
                .is_ok()
        );
        let e = "http-outgoing=".parse::<Grant>().unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
        let e = "http-outgoing=ok.example,bad host"
            .parse::<Grant>()
            .unwrap_err();
        assert!(e.to_string().contains("bad host"), "{e}");
    }
}
