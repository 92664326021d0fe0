//! The HTTP client for requests the gateway sends on a caller's behalf (async-call callbacks),
//! behind the same egress guard as guests: a caller cannot aim the gateway at its own admin API,
//! the cloud metadata service or anything else internal the operator has not opened.
//!
//! Use both parts: [`client`] resolves host names only to allowed addresses, but reqwest never
//! asks a resolver about an IP-literal URL, so [`check_url`] must pass first.

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_capabilities::egress::{self, Refusal, Rules};
use wasmgate_config::IpRange;

/// A reqwest client whose resolver returns only public addresses and those in `opened`
/// (`[egress] allow`), which follows no redirect (a public receiver could otherwise bounce the
/// request inward) and ignores proxy variables (a proxy would resolve the host itself), with an
/// overall `timeout` per request.
pub fn client(opened: &[IpRange], timeout: Duration) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(GuardedResolver {
            rules: Rules::new(None, opened),
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(timeout)
        .build()
}

/// Refuses a URL whose host is an IP address the guard does not allow (host names are checked
/// by [`client`]'s resolver when the request is sent). The URL parser has already turned other
/// IPv4 spellings (`2130706433`, `0x7f.1`) into dotted form.
pub fn check_url(url: &Url, opened: &[IpRange]) -> Result<(), Refusal> {
    let host = url.host_str().unwrap_or("");
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Rules::new(None, opened).check_address(ip),
        Err(_) => Ok(()),
    }
}

/// The guard's refusal inside a failed request of [`client`]: its resolver refused every address
/// of the name, and the refusal travels in the error's source chain.
pub fn refusal_of(e: &reqwest::Error) -> Option<Refusal> {
    let mut source: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = source {
        if let Some(egress::ConnectError::Refused { refusal, .. }) =
            err.downcast_ref::<egress::ConnectError>()
        {
            return Some(*refusal);
        }
        source = err.source();
    }
    None
}

/// Resolves through [`egress::resolve`]: a name whose addresses are all refused does not resolve.
struct GuardedResolver {
    rules: Rules,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rules = self.rules.clone();
        Box::pin(async move {
            // reqwest puts the URL's port on the addresses; the port plays no part without a list.
            let addrs = egress::resolve(&rules, name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests;
