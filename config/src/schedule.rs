//! Timed invocations (`[[schedules]]`): a cron pattern, the time zone it is read in, and what
//! each fire delivers.
//!
//! The pattern syntax is [croner]'s, which follows POSIX/Vixie cron: 5 fields (`minute hour
//! day-of-month month day-of-week`) or 6 with a leading `second` field, ranges, lists, steps
//! (`*/5`), names (`MON`, `JAN`), the `@hourly`-style aliases and the `L`, `W` and `#`
//! extensions (<https://github.com/hexagon/croner-rust#pattern>). Day-of-month and day-of-week
//! are OR-ed when both are restricted, as in Vixie cron. A year field is not accepted.
//!
//! [croner]: https://docs.rs/croner

use crate::error::{Error, Result, shown};
use crate::route::is_request_path;
use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Shortest time allowed between two fires of one schedule. Cron's finest step is one second,
/// so a valid pattern cannot go below it today; the check stays so the rule holds whatever the
/// parser learns, and it is where a node-level floor would go.
pub const MIN_SCHEDULE_INTERVAL: Duration = Duration::from_secs(1);

/// Most `[[schedules]]` one manifest may list: each is a task on every node, and a function that
/// needs more fires than this can combine them in one pattern (lists, ranges, steps).
pub const MAX_SCHEDULES: usize = 16;

/// Fires sampled to check a pattern against [`MIN_SCHEDULE_INTERVAL`]: enough to cover a
/// pattern's densest run within a minute, cheap enough (microseconds each) at deploy time.
const SAMPLED_FIRES: usize = 120;

/// One timed invocation of the function (`[[schedules]]`): fires at every slot `cron` matches
/// in `timezone`, delivering either a message (`message = true`) or an HTTP request (`path`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The cron pattern: 5 fields, or 6 with seconds first (see the module docs).
    pub cron: String,
    /// IANA time zone the pattern is read in (`Europe/Paris`); UTC when left out. Across a
    /// daylight-saving change a wall-clock slot that does not exist is skipped, and one that
    /// exists twice fires as croner resolves it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// `true`: each fire is a message to the guest's `wasi:messaging/incoming-handler`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub message: bool,
    /// Each fire is a `POST` of this path (as the guest sees it under `/fn/NAME`) to the guest's
    /// `wasi:http/incoming-handler`, e.g. `/tick`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// How a schedule's fires reach the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleTarget<'a> {
    /// A message to `wasi:messaging/incoming-handler`.
    Message,
    /// A `POST` to this path through `wasi:http/incoming-handler`.
    Http(&'a str),
}

/// A parsed schedule: the slots it fires at, as instants in UTC.
#[derive(Clone, Debug)]
pub struct Timetable {
    cron: croner::Cron,
    zone: Tz,
}

impl Schedule {
    /// Where fires go; [`Schedule::validate`] guarantees exactly one target.
    pub fn target(&self) -> ScheduleTarget<'_> {
        match &self.path {
            Some(path) => ScheduleTarget::Http(path),
            None => ScheduleTarget::Message,
        }
    }

    /// Parses the pattern and time zone; [`Error::InvalidSchedule`] (with `index`) says what to
    /// fix.
    pub fn timetable(&self, index: usize) -> Result<Timetable> {
        let invalid = |problem: String, fix: &str| Error::InvalidSchedule {
            index,
            problem,
            fix: fix.to_owned(),
        };
        let zone = match &self.timezone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| {
                invalid(
                    format!("timezone `{}` is not an IANA time zone", shown(name)),
                    "name one like `Europe/Paris` or `America/New_York`, or leave it out for UTC",
                )
            })?,
        };
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .year(Year::Disallowed)
            .build()
            .parse(&self.cron)
            .map_err(|e| {
                invalid(
                    format!("cron `{}` does not parse: {e}", shown(&self.cron)),
                    "write 5 fields `minute hour day-of-month month day-of-week` (e.g. `*/5 * * * *`), or 6 with seconds first (e.g. `*/10 * * * * *`)",
                )
            })?;
        Ok(Timetable { cron, zone })
    }

    /// Checks the pattern, time zone and target of schedule number `index` (0-based, in manifest
    /// order): the pattern must fire, never more often than [`MIN_SCHEDULE_INTERVAL`].
    pub fn validate(&self, index: usize) -> Result<()> {
        let invalid = |problem: String, fix: &str| Error::InvalidSchedule {
            index,
            problem,
            fix: fix.to_owned(),
        };
        match (self.message, &self.path) {
            (true, Some(_)) => {
                return Err(invalid(
                    "sets both `message = true` and `path`".into(),
                    "keep one: a message to the guest's incoming-handler, or an HTTP request to the path",
                ));
            }
            (false, None) => {
                return Err(invalid(
                    "names no target".into(),
                    "add `message = true` (a message to the guest's incoming-handler) or `path = \"/tick\"` (an HTTP POST)",
                ));
            }
            (false, Some(path)) => {
                if !is_request_path(path) {
                    return Err(invalid(
                        format!("path `{}` is not a request path", shown(path)),
                        "start it with `/` and use printable ASCII without spaces or `#`, e.g. `/tick?source=cron`",
                    ));
                }
            }
            (true, None) => {}
        }
        let timetable = self.timetable(index)?;
        // A fixed start keeps the check the same on every node and every day.
        let start = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single();
        let Some(mut previous) = start.and_then(|s| timetable.next_after(s)) else {
            return Err(invalid(
                format!("cron `{}` never fires", shown(&self.cron)),
                "check the day-of-month and month fields match a real date",
            ));
        };
        for _ in 0..SAMPLED_FIRES {
            let Some(next) = timetable.next_after(previous) else {
                break;
            };
            if (next - previous).to_std().unwrap_or_default() < MIN_SCHEDULE_INTERVAL {
                return Err(invalid(
                    format!(
                        "cron `{}` fires more often than once every {:?}",
                        shown(&self.cron),
                        MIN_SCHEDULE_INTERVAL
                    ),
                    "space the fires out",
                ));
            }
            previous = next;
        }
        Ok(())
    }
}

impl Timetable {
    /// The first slot strictly after `after`, or `None` when the pattern matches no later time.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = after.with_timezone(&self.zone);
        self.cron
            .find_next_occurrence(&local, false)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The last slot at or before `at`, or `None` when the pattern matched no earlier time.
    pub fn latest_at_or_before(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = at.with_timezone(&self.zone);
        self.cron
            .find_previous_occurrence(&local, true)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    }
}

/// Checks every schedule of a manifest, and that there are at most [`MAX_SCHEDULES`].
pub(crate) fn validate_all(schedules: &[Schedule]) -> Result<()> {
    if schedules.len() > MAX_SCHEDULES {
        return Err(Error::InvalidManifest {
            reason: format!(
                "schedules lists {} entries, more than {MAX_SCHEDULES}: combine patterns (lists, ranges, steps)",
                schedules.len()
            ),
        });
    }
    schedules
        .iter()
        .enumerate()
        .try_for_each(|(index, schedule)| schedule.validate(index))
}

#[cfg(test)]
mod tests;
