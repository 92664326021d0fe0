//! Which functions stay in memory on one node, and for how long: users pay for work, not for
//! idle code (issue 15, round2-design §1.3).
//!
//! - [`Pattern`] (one per function, updated on every call start and end in O(1)): calls in
//!   flight, the last end, a call frequency that halves every hour, and the idle-time
//!   histogram of Serverless in the Wild ([`IdleHistogram`]).
//! - [`Windows`]: when an idle function's code leaves memory and when it comes back, from the
//!   hybrid histogram rule ([`HistogramRule`]) or a fixed keep-alive.
//! - [`Residency`]: the functions holding memory under a byte budget, in [`Layer`]s, evicted by
//!   Greedy-Dual or LRU, expired and pre-warmed by their windows.
//! - [`KeepAlivePolicy`]: the policy chosen by name (`adaptive`, `fixed:10m`, …), which sets
//!   the windows and the eviction rule, so the node and the simulator run every baseline through
//!   the same code.
//!
//! Times are [`Duration`](std::time::Duration)s since an origin the caller picks; nothing here
//! reads a clock.
//!
//! How a node drives it (the simulator in `wasmgate-sim` does exactly this):
//!
//! 1. **Every call**: `pattern.on_start(now)` when it starts and `pattern.on_end(now)` when it
//!    ends, under the function's own lock; nothing global.
//! 2. **Cold start** (the function lacks a layer, [`Residency::holds`]): after `on_start`,
//!    [`Residency::admit`] with the function's measured [`Footprint`] and `min_instances > 0` as
//!    `pinned`, then drop what the returned [`Action::Drop`]s name. The `usage` closure reads any
//!    function's pattern ([`Usage::of`]); do not hold a pattern's lock while calling the
//!    residency, or the two lock orders can deadlock.
//! 3. **Housekeeping**: at [`Residency::next_deadline`] (or on a periodic tick),
//!    [`Residency::sweep`] with a closure giving each function's [`Usage`] and
//!    [`KeepAlivePolicy::windows`] (its manifest `idle_timeout` as the fallback); perform the
//!    drops and pre-warms it returns. Optionally [`Residency::refresh`] at a call's end, so
//!    expiry is exact when a function's windows shrink.
//! 4. **Delete or replace**: [`Residency::remove`] (also when a pre-warm's load fails).
//! 5. **Time-compressed replay**: build patterns with [`PatternParams::compressed`].

mod break_even;
mod histogram;
mod layer;
mod pattern;
mod policy;
mod priority;
mod residency;
mod usage;
mod windows;

pub use break_even::{BreakEvenRule, ColdStartWorth};
pub use histogram::{BINS, IdleHistogram, RECENT_OUT_OF_BOUNDS};
pub use layer::{Footprint, Layer, LayerCost};
pub use pattern::{DEFAULT_BIN, DEFAULT_HALF_LIFE, Pattern, PatternParams};
pub use policy::{EvictionRule, KeepAlivePolicy, Order};
pub use residency::{Action, IN_FLIGHT_RECHECK, Residency};
pub use usage::Usage;
pub use windows::{HistogramRule, Windows};
