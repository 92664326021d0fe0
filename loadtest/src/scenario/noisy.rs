//! `noisy`: do one function's CPU-bound guests leave another function's calls alone?
//!
//! The same run as [`overload`](super::overload), with a different flood: a few connections
//! (by default 8, four per core of a 2-core node) each call a function whose guest spins until
//! its timeout (the `limits_loop` test guest) and call again when answered, so every core has
//! spinning guests on it for the whole phase. The probe calls a neighbour function at a fixed
//! rate, alone (`baseline`) and then among the spinners (`flooded`); the run fails when the
//! probe's p99 among them passes `--max-probe-p99` (20 ms unless given). The spinners' answers
//! are `504 timeout` by design, so the flood is checked to answer at all, not to answer 2xx.

use std::time::Duration;

/// Spinning connections unless `--flood-connections` says otherwise: four per core of a 2-core
/// node, the load in issue 12 (8 spinners delayed a neighbour's hello 0.33 s).
pub const DEFAULT_SPINNERS: usize = 8;

/// The probe's p99 among the spinners unless `--max-probe-p99` says otherwise: issue 12's goal.
pub const DEFAULT_MAX_NEIGHBOUR_P99: Duration = Duration::from_millis(20);
