//! `/metrics`: bring the state-derived series up to date, then encode the text format.

use super::Metrics;
use super::families::GUEST_LIMITS;
use crate::catalog::Snapshot;
use crate::quotas::Quota;
use prometheus::{Encoder, TextEncoder};
use std::sync::atomic::Ordering::Relaxed;
use wasmgate_pool::Pool;

impl Metrics {
    /// The text exposition of every metric, after reading the pool's current state.
    pub fn render(&self, snapshot: &Snapshot, pool: &Pool) -> Result<String, prometheus::Error> {
        let _one_at_a_time = self.scrape.lock().unwrap_or_else(|e| e.into_inner());
        let (mut warm, mut cold, mut down, mut loaded) = (0, 0, 0, 0u64);
        for deployed in snapshot.sorted() {
            let name = deployed.record.name.as_str();
            let stats = deployed.function.stats();
            if deployed.down.is_some() {
                down += 1;
            } else if stats.warm {
                warm += 1;
                loaded += deployed.record.artifact_size;
            } else {
                cold += 1;
            }
            self.instances
                .with_label_values(&[name])
                .set(i64::try_from(stats.instances).unwrap_or(i64::MAX));
            // Only functions that opted into reuse get its series.
            if deployed.function.settings().reuse.is_some() {
                self.instances_kept
                    .with_label_values(&[name])
                    .set(i64::try_from(stats.kept_instances).unwrap_or(i64::MAX));
                catch_up(
                    &self.instance_reuses.with_label_values(&[name]),
                    stats.reuses,
                );
            }
            let cost = &stats.cost;
            for (family, total) in [
                (&self.memory_seconds, cost.memory_byte_seconds),
                (&self.memory_busy_seconds, cost.busy_byte_seconds),
                (&self.guest_cpu_seconds, cost.guest_cpu.as_secs_f64()),
            ] {
                let counter = family.with_label_values(&[name]);
                let delta = total - counter.get();
                if delta > 0.0 {
                    counter.inc_by(delta);
                }
            }
            catch_up(
                &self.guest_log_dropped.with_label_values(&[name]),
                stats.log_lines_dropped,
            );
            // Only functions whose calls ran past a tick get the series.
            if stats.cpu_slices > 0 {
                catch_up(
                    &self.guest_cpu_slices.with_label_values(&[name]),
                    stats.cpu_slices,
                );
            }
            if stats.cpu_waits > 0 {
                catch_up(
                    &self.guest_cpu_waits.with_label_values(&[name]),
                    stats.cpu_waits,
                );
            }
            let hits = stats.limit_hits;
            let totals = [
                hits.response_body,
                hits.messages_per_call,
                hits.open_buckets,
            ];
            for (limit, total) in GUEST_LIMITS.into_iter().zip(totals) {
                // Only functions that hit a limit get the series.
                if total > 0 {
                    catch_up(&self.guest_limits.with_label_values(&[name, limit]), total);
                }
            }
        }
        self.functions.with_label_values(&["warm"]).set(warm);
        let deployed = snapshot.sorted();
        self.quota_used
            .with_label_values(&[Quota::Functions.key()])
            .set(i64::try_from(deployed.len()).unwrap_or(i64::MAX));
        let stored = crate::quotas::stored_bytes(deployed.iter().map(|d| &d.record));
        self.quota_used
            .with_label_values(&[Quota::StoredBytes.key()])
            .set(i64::try_from(stored).unwrap_or(i64::MAX));
        self.functions.with_label_values(&["cold"]).set(cold);
        self.functions.with_label_values(&["down"]).set(down);
        let evictions = pool.evictions();
        for (reason, total) in [
            ("idle", evictions.idle.load(Relaxed)),
            ("budget", evictions.budget.load(Relaxed)),
            ("removed", evictions.removed.load(Relaxed)),
        ] {
            catch_up(&self.evictions.with_label_values(&[reason]), total);
        }
        // Summed here rather than read from the code cache, whose weighted size lags until its
        // pending maintenance runs.
        self.loaded_code_bytes
            .set(i64::try_from(loaded).unwrap_or(i64::MAX));
        let memory = pool.keep_alive_memory(|_| true);
        self.memory_demand_bytes
            .set(i64::try_from(memory.demand).unwrap_or(i64::MAX));

        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

/// Raises a counter to `total`, a running total kept elsewhere.
fn catch_up(counter: &prometheus::IntCounter, total: u64) {
    let seen = counter.get();
    if total > seen {
        counter.inc_by(total - seen);
    }
}
