//! How a node runs the functions' `[[schedules]]` (`[schedules]`).

use crate::defaults::DEFAULT_SCHEDULE_CATCH_UP;
use serde::Deserialize;

/// The node's schedule settings (`[schedules]`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    /// At start, fire once each schedule whose latest slot fell due while the gateway was down
    /// (at most one fire per schedule, however many slots were missed); `false` skips them.
    pub catch_up: bool,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            catch_up: DEFAULT_SCHEDULE_CATCH_UP,
        }
    }
}
