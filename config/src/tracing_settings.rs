//! Distributed tracing (`[tracing]`): OpenTelemetry spans exported over OTLP/HTTP, off unless
//! `otlp_endpoint` is set.
//!
//! The W3C Trace Context (`traceparent`, <https://www.w3.org/TR/trace-context/>) of an incoming
//! request becomes the parent of the gateway's spans, and is passed on to the guest's outgoing
//! requests. Export follows the OTLP/HTTP protobuf encoding
//! (<https://opentelemetry.io/docs/specs/otlp/#otlphttp>).

use crate::error::Result;
use crate::validate::ensure;
use serde::Deserialize;

/// `service.name` of the exported spans when `service_name` is left out.
pub const DEFAULT_SERVICE_NAME: &str = "wasmgate";

/// Share of traces sampled when `sample_ratio` is left out: all of them (a collector can sample
/// further; a gateway that samples too little loses the traces users look for).
pub const DEFAULT_SAMPLE_RATIO: f64 = 1.0;

/// Tracing settings (`[tracing]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingSettings {
    /// The collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces` (used as
    /// written, path included). Plain `http` only: run the collector (or its agent) beside the
    /// gateway. Unset, the default: no spans are recorded or exported.
    pub otlp_endpoint: Option<String>,
    /// Share of new traces recorded, 0 to 1. A request that arrives with a `traceparent` follows
    /// its caller's sampling decision (parent-based sampling).
    pub sample_ratio: f64,
    /// `service.name` of the spans; `service.instance.id` is the node id.
    pub service_name: String,
}

impl Default for TracingSettings {
    fn default() -> Self {
        TracingSettings {
            otlp_endpoint: None,
            sample_ratio: DEFAULT_SAMPLE_RATIO,
            service_name: DEFAULT_SERVICE_NAME.to_owned(),
        }
    }
}

impl TracingSettings {
    /// Checks the endpoint's scheme, the ratio and the name, naming the key to change.
    pub(crate) fn validate(&self) -> Result<()> {
        if let Some(url) = &self.otlp_endpoint {
            let ok = url.strip_prefix("http://").is_some_and(|rest| {
                let host = rest.split(['/', ':', '?']).next().unwrap_or("");
                !host.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
            });
            ensure(ok, || {
                format!(
                    "tracing.otlp_endpoint `{}` is not an http:// URL: write the collector's OTLP/HTTP traces URL, e.g. `http://127.0.0.1:4318/v1/traces` (https is not supported: run the collector beside the gateway)",
                    url.escape_debug()
                )
            })?;
        }
        ensure((0.0..=1.0).contains(&self.sample_ratio), || {
            format!(
                "tracing.sample_ratio {} is out of range: set 0 to 1 (the share of traces recorded), e.g. {DEFAULT_SAMPLE_RATIO}",
                self.sample_ratio
            )
        })?;
        ensure(!self.service_name.trim().is_empty(), || {
            format!(
                "tracing.service_name is empty: name the service, e.g. `{DEFAULT_SERVICE_NAME}`"
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_bad_endpoints_ratios_or_names_are_refused_naming_the_key() {
        TracingSettings::default().validate().unwrap();
        assert_eq!(TracingSettings::default().otlp_endpoint, None);
        let on: TracingSettings =
            toml::from_str("otlp_endpoint = \"http://127.0.0.1:4318/v1/traces\"").unwrap();
        on.validate().unwrap();
        for (toml, key) in [
            (
                "otlp_endpoint = \"https://collector:4318/v1/traces\"",
                "tracing.otlp_endpoint",
            ),
            (
                "otlp_endpoint = \"collector:4318\"",
                "tracing.otlp_endpoint",
            ),
            ("otlp_endpoint = \"not a url\"", "tracing.otlp_endpoint"),
            ("sample_ratio = 1.5", "tracing.sample_ratio"),
            ("service_name = \" \"", "tracing.service_name"),
        ] {
            let settings: TracingSettings = toml::from_str(toml).unwrap();
            let e = settings.validate().unwrap_err();
            assert_eq!(e.code(), "invalid_config", "{toml}");
            assert!(e.to_string().contains(key), "{e}");
        }
    }
}
