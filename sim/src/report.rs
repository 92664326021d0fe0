//! What a simulation found, as one JSON object (`serde`) or a text table.
//!
//! Units: times in seconds (`_s`), bytes in bytes, memory·time in GiB·s. Counts and ratios
//! cover the measured period (after the warm-up) only.

use serde::Serialize;
use std::fmt::Write;

/// Min, median, 95th percentile and max of a series.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Distribution {
    /// The smallest value.
    pub min: f64,
    /// The nearest-rank median.
    pub median: f64,
    /// The nearest-rank 95th percentile.
    pub p95: f64,
    /// The largest value.
    pub max: f64,
}

impl Distribution {
    /// The distribution of `values` (all 0 when empty).
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        Distribution {
            min: values.first().copied().unwrap_or(0.0),
            median: crate::replay::percentile(&values, 0.5),
            p95: crate::replay::percentile(&values, 0.95),
            max: values.last().copied().unwrap_or(0.0),
        }
    }
}

/// Percentiles of the per-function cold-start ratio (cold calls / calls) over the functions
/// called in the measured period.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct PerFunction {
    /// Median function.
    pub p50: f64,
    /// SitW's "third-quartile app": the headline metric.
    pub p75: f64,
    /// The tail.
    pub p99: f64,
}

/// How many nodes the load needed (`Placement::nodes_needed` each minute: the larger of what
/// the minute's average calls in flight per node need and what the nodes' keep-alive memory
/// demand at its end needs).
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct NodesNeeded {
    /// Over the measured minutes.
    #[serde(flatten)]
    pub summary: Distribution,
    /// The calls side alone (`Placement::nodes_for_calls`).
    pub for_calls: Distribution,
    /// The memory side alone (`Placement::nodes_for_memory`).
    pub for_memory: Distribution,
    /// The most needed in each hour of the measured period, in order (a coarse time series).
    pub hourly_max: Vec<usize>,
}

/// A simulation's result.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Report {
    /// The keep-alive policy, as parsed.
    pub policy: String,
    /// Nodes simulated.
    pub nodes: usize,
    /// Each node's byte budget.
    pub memory_budget_bytes: u64,
    /// The fallback keep-alive (manifest `idle_timeout`), seconds.
    pub idle_timeout_s: f64,
    /// The unmeasured start of the trace, seconds.
    pub warmup_s: f64,
    /// From the trace's origin to its last call's end, seconds.
    pub span_s: f64,
    /// Functions the trace lists.
    pub trace_functions: usize,
    /// Functions called in the measured period.
    pub functions_called: usize,
    /// Calls started in the measured period.
    pub invocations: u64,
    /// Of those, calls whose function's code was not resident on their node.
    pub cold_starts: u64,
    /// `cold_starts / invocations`.
    pub cold_start_ratio: f64,
    /// Cold-start ratio per function.
    pub cold_start_ratio_per_function: PerFunction,
    /// Σ over cold calls of their kind's cold-start latency, seconds.
    pub cold_start_time_s: f64,
    /// Σ of the restore time of every layer calls had to restore (cold or not), seconds.
    pub restore_time_s: f64,
    /// Bytes held by all layers × time, GiB·s.
    pub memory_seconds: f64,
    /// Bytes held while no call of their function ran on their node × time, GiB·s.
    pub wasted_memory_seconds: f64,
    /// The most bytes held on all nodes together.
    pub peak_resident_bytes: u64,
    /// The most bytes held on one node.
    pub peak_node_resident_bytes: u64,
    /// Bytes held on all nodes together, sampled each minute.
    pub resident_bytes: Distribution,
    /// Pre-warm loads.
    pub prewarms: u64,
    /// Pre-warm loads a call used before they expired.
    pub prewarms_used: u64,
    /// Functions unloaded to make room under the budget.
    pub evictions: u64,
    /// Functions unloaded by their keep-alive or pre-warm window.
    pub expiries: u64,
    /// Nodes the load needed over time.
    pub nodes_needed: NodesNeeded,
    /// The costs file's note (where its numbers come from).
    pub costs_note: String,
}

impl Report {
    /// The report as aligned `name  value` lines.
    pub fn to_table(&self) -> String {
        const MIB: f64 = (1u64 << 20) as f64;
        let mut out = String::new();
        let mut row = |name: &str, value: String| {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "{name:<34} {value}");
        };
        row("policy", self.policy.clone());
        row(
            "nodes × budget",
            format!(
                "{} × {:.0} MiB",
                self.nodes,
                self.memory_budget_bytes as f64 / MIB
            ),
        );
        row(
            "measured",
            format!(
                "{:.1} h of {:.1} h (warm-up {:.1} h)",
                (self.span_s - self.warmup_s).max(0.0) / 3600.0,
                self.span_s / 3600.0,
                self.warmup_s / 3600.0
            ),
        );
        row(
            "functions called / in trace",
            format!("{} / {}", self.functions_called, self.trace_functions),
        );
        row("invocations", self.invocations.to_string());
        row(
            "cold starts",
            format!(
                "{} ({:.3} % of calls)",
                self.cold_starts,
                self.cold_start_ratio * 100.0
            ),
        );
        let p = self.cold_start_ratio_per_function;
        row(
            "cold-start ratio per fn p50/p75/p99",
            format!("{:.3} / {:.3} / {:.3}", p.p50, p.p75, p.p99),
        );
        row(
            "cold-start time",
            format!(
                "{:.3} s (restores {:.3} s)",
                self.cold_start_time_s, self.restore_time_s
            ),
        );
        row(
            "memory·time",
            format!(
                "{:.1} GiB·s, wasted {:.1} GiB·s",
                self.memory_seconds, self.wasted_memory_seconds
            ),
        );
        row(
            "peak resident (cluster / node)",
            format!(
                "{:.1} / {:.1} MiB",
                self.peak_resident_bytes as f64 / MIB,
                self.peak_node_resident_bytes as f64 / MIB
            ),
        );
        row(
            "resident median / p95",
            format!(
                "{:.1} / {:.1} MiB",
                self.resident_bytes.median / MIB,
                self.resident_bytes.p95 / MIB
            ),
        );
        row(
            "pre-warms (used)",
            format!("{} ({})", self.prewarms, self.prewarms_used),
        );
        row(
            "evictions / expiries",
            format!("{} / {}", self.evictions, self.expiries),
        );
        for (label, n) in [
            (
                "nodes needed min/median/p95/max",
                &self.nodes_needed.summary,
            ),
            ("  for calls", &self.nodes_needed.for_calls),
            ("  for memory", &self.nodes_needed.for_memory),
        ] {
            row(
                label,
                format!("{} / {} / {} / {}", n.min, n.median, n.p95, n.max),
            );
        }
        row("costs", self.costs_note.clone());
        out
    }
}
