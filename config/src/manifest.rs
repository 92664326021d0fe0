//! The function manifest: the optional TOML a deploy sends beside the component.

use crate::byte_size::ByteSize;
use crate::config_value::{ConfigValue, check_env_name};
use crate::defaults::{
    MESSAGES_PER_CALL_RANGE, MIN_MEMORY, OPEN_BUCKETS_RANGE, REUSE_MAX_USES_RANGE,
};
use crate::duration::HumanDuration;
use crate::error::{Error, Result, describe_toml};
use crate::health::HealthSection;
use crate::rollout::RolloutSection;
use crate::route::Route;
use crate::schedule::{Schedule, validate_all as validate_schedules};
use crate::sticky_key::StickyKey;
use crate::subject::Subject;
use crate::token_digest::TokenDigest;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};

/// How one function wants to be served; every section and key is optional.
///
/// Plain data: [`Manifest::from_toml`] checks it, [`Manifest::resolve`] fills the gaps from the
/// node's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Manifest {
    /// Extra HTTP routes (`[http]`).
    #[serde(skip_serializing_if = "is_default")]
    pub http: HttpSection,
    /// Instances and concurrency (`[scale]`).
    #[serde(skip_serializing_if = "is_default")]
    pub scale: ScaleSection,
    /// Memory and time per request (`[limits]`).
    #[serde(skip_serializing_if = "is_default")]
    pub limits: LimitsSection,
    /// Subjects whose messages invoke the function (`[[triggers]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// Times the function is invoked at (`[[schedules]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<Schedule>,
    /// Values the guest reads through `wasi:config` (`[config]`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, ConfigValue>,
    /// Key-value buckets shared with other functions (`[keyvalue]`).
    #[serde(skip_serializing_if = "is_default")]
    pub keyvalue: KeyvalueSection,
    /// Subjects the guest may publish on (`[messaging]`).
    #[serde(skip_serializing_if = "is_default")]
    pub messaging: MessagingSection,
    /// How a split between versions treats clients (`[traffic]`).
    #[serde(skip_serializing_if = "is_default")]
    pub traffic: TrafficSection,
    /// The check the host runs on a new version before it takes traffic (`[health]`).
    #[serde(skip_serializing_if = "is_default")]
    pub health: HealthSection,
    /// Whether deploys start as canaries, and how this function's canaries are judged
    /// (`[rollout]`).
    #[serde(skip_serializing_if = "is_default")]
    pub rollout: RolloutSection,
}

/// How a traffic split between versions of this function treats clients (`[traffic]`); the
/// version taking most of the traffic decides it for all of them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrafficSection {
    /// The header or cookie whose value keeps a client on one version while traffic is split
    /// (`header:x-user-id`, `cookie:session`): the same value lands on the same version as long
    /// as the weights stay the same. Unset, the default, or absent from a request: each request
    /// picks a version at random by weight.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticky: Option<StickyKey>,
}

/// What the guest may put on the bus (`[messaging]`); needs the `messaging` grant and a signed
/// manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MessagingSection {
    /// Subjects or patterns (`orders.created`, `audit.>`) the guest may `send` and `request` on;
    /// any other subject is refused with `permission-denied`. Empty, the default: none. The host's
    /// own subjects (`wasmgate.>`, `_INBOX.>`) stay closed whatever is listed; a guest answers a
    /// request with `reply`, which needs no entry.
    pub publish: Vec<Subject>,
}

/// Key-value access beyond the function's own buckets (`[keyvalue]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyvalueSection {
    /// Buckets this function shares with every other function that lists them too; any other
    /// bucket name it opens is its own.
    pub shared: Vec<String>,
}

/// Extra HTTP routes beyond `/fn/{name}` (`[http]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// Path patterns that invoke the function with the full request path.
    pub routes: Vec<Route>,
    /// When not empty, invoking the function (`/fn/NAME`, its routes, `/async/NAME`) needs
    /// `Authorization: Bearer TOKEN` whose SHA-256 is listed here (or the admin token); list two
    /// while rotating. Empty: anyone who reaches the listener may invoke it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub invoke_token_sha256: Vec<TokenDigest>,
}

/// Instances and concurrency (`[scale]`); a missing key takes the node's `[defaults]` value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScaleSection {
    /// Instances kept ready even when idle; above 0 the function never scales to zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_instances: Option<u32>,
    /// Most live instances; at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instances: Option<u32>,
    /// Most requests served at once before queueing; at least 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrency: Option<u32>,
    /// Time without work before scaling to zero; zero releases it as soon as it is idle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<HumanDuration>,
    /// Keep an instance whose call ended cleanly and hand it to the next call of this version,
    /// instead of a fresh instance per call. Trades isolation for speed: the guest's globals and
    /// linear memory survive from one request to the next, so a guest that keeps per-request
    /// secrets in memory must not set it. Off unless set; `true` needs a signed manifest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse: Option<bool>,
    /// Calls one reused instance serves before it is dropped; within [`REUSE_MAX_USES_RANGE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_max_uses: Option<u32>,
    /// How long a reused instance waits idle for its next call before it is dropped; never zero,
    /// at most the function's `idle_timeout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reuse_idle: Option<HumanDuration>,
}

/// What one request may use (`[limits]`); a missing key takes the node's `[defaults]` value.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Linear memory per instance; growing past it traps. At most the node's `pool.max_memory`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<ByteSize>,
    /// Time one request may run before it is answered 504; never zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<HumanDuration>,
    /// Largest response body one call may stream; past it the body is cut off and the guest
    /// stopped, and a larger declared `content-length` is answered 502. Never zero.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_response_body: Option<ByteSize>,
    /// Messages one call may send on the bus; later sends fail. Within
    /// [`MESSAGES_PER_CALL_RANGE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_messages_per_call: Option<u32>,
    /// Key-value buckets one instance may hold open at once; further opens fail. Within
    /// [`OPEN_BUCKETS_RANGE`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_open_buckets: Option<u32>,
}

/// One subscription that invokes the function per message (`[[triggers]]`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// Subject or pattern to listen on.
    pub subject: Subject,
    /// Queue group: set it so each message goes to one node of the group instead of all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
}

impl Manifest {
    /// Parses and [checks](Manifest::validate) a manifest; errors carry the line and column.
    pub fn from_toml(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text).map_err(|e| Error::InvalidManifest {
            reason: describe_toml(text, &e),
        })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks what can be checked without the node's settings; [`Manifest::resolve`] checks the rest.
    pub fn validate(&self) -> Result<()> {
        let scale = &self.scale;
        ensure(scale.max_instances != Some(0), || {
            "scale.max_instances is 0: allow at least 1".into()
        })?;
        ensure(scale.max_concurrency != Some(0), || {
            "scale.max_concurrency is 0: allow at least 1".into()
        })?;
        if let (Some(min), Some(max)) = (scale.min_instances, scale.max_instances) {
            ensure(min <= max, || {
                format!(
                    "scale.min_instances {min} exceeds scale.max_instances {max}: lower the first or raise the second"
                )
            })?;
        }
        if let Some(memory) = self.limits.memory {
            ensure(memory >= MIN_MEMORY, || {
                format!(
                    "limits.memory {memory} is below one WebAssembly page: set at least `{MIN_MEMORY}`"
                )
            })?;
        }
        ensure(!self.limits.timeout.is_some_and(|t| t.is_zero()), || {
            "limits.timeout is zero: give requests time to run, e.g. `30s`".into()
        })?;
        self.limits.validate()?;
        scale.validate_reuse()?;
        let mut routes = HashSet::new();
        for route in &self.http.routes {
            ensure(routes.insert(route), || {
                format!("http.routes lists `{route}` twice: remove one")
            })?;
        }
        let mut triggers = HashSet::new();
        for trigger in &self.triggers {
            if let Some(queue) = &trigger.queue {
                ensure(
                    !queue.is_empty()
                        && !queue.chars().any(|c| c.is_whitespace() || c.is_control()),
                    || {
                        format!(
                            "triggers queue `{}` is invalid: name the group with printable characters and no spaces, or leave it out",
                            queue.escape_debug()
                        )
                    },
                )?;
            }
            ensure(triggers.insert(trigger), || {
                format!(
                    "triggers lists subject `{}` twice with the same queue: remove one",
                    trigger.subject
                )
            })?;
        }
        validate_schedules(&self.schedules)?;
        self.health.validate()?;
        self.rollout.validate()?;
        for (key, value) in &self.config {
            ensure(!key.is_empty(), || {
                "config has an empty key: name every value".into()
            })?;
            if let ConfigValue::Env { env } = value {
                check_env_name(key, env)?;
            }
        }
        for bucket in &self.keyvalue.shared {
            let ok = !bucket.is_empty()
                && bucket.len() <= 128
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            ensure(ok, || {
                format!(
                    "keyvalue.shared: bucket `{}` is not a bucket name: use 1 to 128 letters, digits, '-', '_' or '.'",
                    bucket.escape_debug()
                )
            })?;
        }
        Ok(())
    }
}

impl ScaleSection {
    /// Checks the reuse keys that need no node settings to judge.
    fn validate_reuse(&self) -> Result<()> {
        if let Some(n) = self.reuse_max_uses {
            ensure(REUSE_MAX_USES_RANGE.contains(&n), || {
                format!("scale.reuse_max_uses {n} {}", out_of(&REUSE_MAX_USES_RANGE))
            })?;
        }
        ensure(!self.reuse_idle.is_some_and(|t| t.is_zero()), || {
            "scale.reuse_idle is zero: keep a reused instance for a while, e.g. `10s`, or set reuse = false".into()
        })?;
        if let (Some(idle), Some(timeout)) = (self.reuse_idle, self.idle_timeout) {
            ensure(idle <= timeout, || {
                format!(
                    "scale.reuse_idle {idle} exceeds scale.idle_timeout {timeout}: a reused instance cannot outlive its code; lower the first"
                )
            })?;
        }
        Ok(())
    }
}

impl LimitsSection {
    /// Checks the limits that need no node settings to judge.
    fn validate(&self) -> Result<()> {
        ensure(self.max_response_body.is_none_or(|b| b.bytes() > 0), || {
            "limits.max_response_body is zero: allow the responses the function sends, e.g. `100MiB`"
                .into()
        })?;
        if let Some(n) = self.max_messages_per_call {
            ensure(MESSAGES_PER_CALL_RANGE.contains(&n), || {
                format!(
                    "limits.max_messages_per_call {n} {}",
                    out_of(&MESSAGES_PER_CALL_RANGE)
                )
            })?;
        }
        if let Some(n) = self.max_open_buckets {
            ensure(OPEN_BUCKETS_RANGE.contains(&n), || {
                format!(
                    "limits.max_open_buckets {n} {}",
                    out_of(&OPEN_BUCKETS_RANGE)
                )
            })?;
        }
        Ok(())
    }
}

/// "is out of range: ..." for a count limit, naming its bounds.
pub(crate) fn out_of(range: &std::ops::RangeInclusive<u32>) -> String {
    format!("is out of range: set {} to {}", range.start(), range.end())
}

/// Whether a section equals its default, so serializing leaves it out.
fn is_default<T: Default + PartialEq>(section: &T) -> bool {
    *section == T::default()
}

/// `Ok` when `ok`, else [`Error::InvalidManifest`] with the reason built only on failure.
pub(crate) fn ensure(ok: bool, reason: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidManifest { reason: reason() })
    }
}

#[cfg(test)]
mod tests;
