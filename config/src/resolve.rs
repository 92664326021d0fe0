//! A manifest merged with the node's defaults: the limits one function actually runs with.

use crate::defaults::{
    MESSAGES_PER_CALL_RANGE, MIN_MEMORY, OPEN_BUCKETS_RANGE, REUSE_MAX_USES_RANGE,
};
use crate::error::Result;
use crate::manifest::{Manifest, ensure, out_of};
use crate::settings::{FunctionDefaults, PoolSettings};
use std::fmt::Display;
use std::time::Duration;

/// The limits and scaling one function runs with, every gap in its manifest filled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSettings {
    /// Instances kept ready even when idle; above 0 the function never scales to zero.
    pub min_instances: u32,
    /// Most live instances; at least 1.
    pub max_instances: u32,
    /// Most requests served at once before queueing; at least 1.
    pub max_concurrency: u32,
    /// Time without work before scaling to zero.
    pub idle_timeout: Duration,
    /// Linear memory per instance, in bytes.
    pub memory: u64,
    /// Time one request may run; never zero.
    pub timeout: Duration,
    /// Wait for a concurrency slot before answering 429; zero refuses at once.
    pub queue_timeout: Duration,
    /// Largest response body one call may stream, in bytes; never zero.
    pub max_response_body: u64,
    /// Messages one call may send on the bus.
    pub max_messages_per_call: u32,
    /// Key-value buckets one instance may hold open at once.
    pub max_open_buckets: u32,
    /// How instances are reused across calls; `None`: every call runs in a fresh instance.
    pub reuse: Option<Reuse>,
}

/// The bounds of instance reuse for a function that opted in (`[scale] reuse = true`) on a node
/// that allows it (`pool.allow_reuse`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reuse {
    /// Calls one instance serves before it is dropped; at least 1.
    pub max_uses: u32,
    /// How long an instance waits idle for its next call before it is dropped; at most the
    /// function's `idle_timeout`.
    pub idle: Duration,
}

/// A value and the key it came from, so an error names the key the user should change.
struct Picked<T> {
    value: T,
    key: &'static str,
}

/// The manifest's value under `key` if set, else the node default under `default_key`.
fn pick<T>(set: Option<T>, key: &'static str, default: T, default_key: &'static str) -> Picked<T> {
    match set {
        Some(value) => Picked { value, key },
        None => Picked {
            value: default,
            key: default_key,
        },
    }
}

impl<T: Display> Display for Picked<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.key, self.value)
    }
}

impl Manifest {
    /// Fills every key the manifest leaves out from `defaults`, then checks the result against
    /// what this node can run: a manifest that resolves here deploys here.
    ///
    /// Refuses, naming the key to change: a memory limit above `pool.max_memory` or below one
    /// page, a zero timeout or response body limit, `min_instances` above `max_instances` or
    /// `pool.instances`, zero `max_instances` or `max_concurrency`, and message or bucket limits
    /// out of their ranges.
    pub fn resolve(
        &self,
        defaults: &FunctionDefaults,
        pool: &PoolSettings,
    ) -> Result<FunctionSettings> {
        self.validate()?;
        let (scale, limits) = (&self.scale, &self.limits);
        let min = pick(
            scale.min_instances,
            "scale.min_instances",
            defaults.min_instances,
            "defaults.min_instances",
        );
        let max = pick(
            scale.max_instances,
            "scale.max_instances",
            defaults.max_instances,
            "defaults.max_instances",
        );
        let concurrency = pick(
            scale.max_concurrency,
            "scale.max_concurrency",
            defaults.max_concurrency,
            "defaults.max_concurrency",
        );
        let memory = pick(
            limits.memory,
            "limits.memory",
            defaults.memory,
            "defaults.memory",
        );
        let timeout = pick(
            limits.timeout,
            "limits.timeout",
            defaults.timeout,
            "defaults.timeout",
        );

        let body = pick(
            limits.max_response_body,
            "limits.max_response_body",
            defaults.max_response_body,
            "defaults.max_response_body",
        );
        let messages = pick(
            limits.max_messages_per_call,
            "limits.max_messages_per_call",
            defaults.max_messages_per_call,
            "defaults.max_messages_per_call",
        );
        let buckets = pick(
            limits.max_open_buckets,
            "limits.max_open_buckets",
            defaults.max_open_buckets,
            "defaults.max_open_buckets",
        );

        ensure(max.value >= 1, || {
            format!("{max}: allow at least 1 instance")
        })?;
        ensure(concurrency.value >= 1, || {
            format!("{concurrency}: allow at least 1 request at a time")
        })?;
        ensure(min.value <= max.value, || {
            format!("{min} exceeds {max}: set both in [scale]")
        })?;
        ensure(min.value <= pool.instances, || {
            format!(
                "{min} exceeds the node's pool.instances {}: keep fewer instances ready",
                pool.instances
            )
        })?;
        ensure(memory.value <= pool.max_memory, || {
            format!(
                "{memory} exceeds the node's pool.max_memory {}",
                pool.max_memory
            )
        })?;
        ensure(memory.value >= MIN_MEMORY, || {
            format!("{memory} is below one WebAssembly page ({MIN_MEMORY})")
        })?;
        ensure(!timeout.value.is_zero(), || {
            format!("{timeout}: give requests time to run, e.g. `30s`")
        })?;

        ensure(body.value.bytes() > 0, || {
            format!("{body}: allow the responses the function sends, e.g. `100MiB`")
        })?;
        ensure(MESSAGES_PER_CALL_RANGE.contains(&messages.value), || {
            format!("{messages} {}", out_of(&MESSAGES_PER_CALL_RANGE))
        })?;
        ensure(OPEN_BUCKETS_RANGE.contains(&buckets.value), || {
            format!("{buckets} {}", out_of(&OPEN_BUCKETS_RANGE))
        })?;

        let idle_timeout = scale.idle_timeout.unwrap_or(defaults.idle_timeout).get();
        let reuse = self.resolve_reuse(defaults, pool, idle_timeout)?;

        Ok(FunctionSettings {
            min_instances: min.value,
            max_instances: max.value,
            max_concurrency: concurrency.value,
            idle_timeout,
            memory: memory.value.bytes(),
            timeout: timeout.value.get(),
            queue_timeout: defaults.queue_timeout.get(),
            max_response_body: body.value.bytes(),
            max_messages_per_call: messages.value,
            max_open_buckets: buckets.value,
            reuse,
        })
    }

    /// The reuse bounds, or `None` when the manifest does not opt in or the node refuses reuse
    /// (`pool.allow_reuse = false`: the function then runs fresh per call, and still deploys, so
    /// one cluster record serves on nodes of either setting). The node's `reuse_idle` is capped
    /// at the function's `idle_timeout`; a manifest's own `reuse_idle` above it is refused.
    fn resolve_reuse(
        &self,
        defaults: &FunctionDefaults,
        pool: &PoolSettings,
        idle_timeout: Duration,
    ) -> Result<Option<Reuse>> {
        let scale = &self.scale;
        let uses = pick(
            scale.reuse_max_uses,
            "scale.reuse_max_uses",
            defaults.reuse_max_uses,
            "defaults.reuse_max_uses",
        );
        ensure(REUSE_MAX_USES_RANGE.contains(&uses.value), || {
            format!("{uses} {}", out_of(&REUSE_MAX_USES_RANGE))
        })?;
        let idle = match scale.reuse_idle {
            Some(idle) => {
                ensure(idle.get() <= idle_timeout, || {
                    format!(
                        "scale.reuse_idle {idle} exceeds the function's idle_timeout {}: a reused instance cannot outlive its code; lower the first",
                        crate::duration::HumanDuration::from_duration(idle_timeout)
                    )
                })?;
                idle.get()
            }
            None => defaults.reuse_idle.get().min(idle_timeout),
        };
        if scale.reuse != Some(true) || !pool.allow_reuse {
            return Ok(None);
        }
        Ok(Some(Reuse {
            max_uses: uses.value,
            idle,
        }))
    }
}

#[cfg(test)]
mod tests;
