//! Prometheus metrics at `/metrics`: what every function costs and does.
//!
//! Counters a request touches are per-function handles resolved once (see [`FunctionMetrics`]),
//! so a warm call updates atomics only. Gauges that describe state (instances, warm functions,
//! loaded code, memory held) are read from the pool when scraped, costing the hot path nothing.
//! Series are labelled only with registered function names and are removed on delete.

mod counted_bus;
mod counted_kv;
mod families;
mod function_metrics;
mod scrape;

pub use counted_bus::CountedBus;
pub use counted_kv::CountedKv;
pub use families::{CANARY_OUTCOMES, HEALTH_OUTCOMES, HEALTH_STAGES, Metrics, SCHEDULE_OUTCOMES};
pub use function_metrics::FunctionMetrics;
