//! The scheduler's decisions, pure: which slot comes next, and what a schedule does when it
//! starts (at deploy, at restore, after a restart) given the last slot it fired.

use chrono::{DateTime, Utc};
use wasmgate_config::Timetable;

/// What a schedule does when its task starts at `now`, before it waits for its next slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Nothing fell due since the last fire (or the pattern never matched before `now`).
    Wait,
    /// First start of this schedule: record its latest past slot as passed, without firing, so
    /// a slot missed during a later outage is known to be missed.
    Baseline(DateTime<Utc>),
    /// A slot fell due while the gateway was down: fire it once (the latest, however many were
    /// missed).
    CatchUp(DateTime<Utc>),
    /// A slot fell due while the gateway was down and catch-up is off: record it as passed.
    Skip(DateTime<Utc>),
}

/// What to do at start: `last` is the slot fired (or passed over) before, `None` for a schedule
/// that never ran; `catch_up` is the node's `[schedules] catch_up`.
pub fn at_start(
    timetable: &Timetable,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    catch_up: bool,
) -> Start {
    let Some(latest) = timetable.latest_at_or_before(now) else {
        return Start::Wait;
    };
    match last {
        None => Start::Baseline(latest),
        Some(last) if latest <= last => Start::Wait,
        Some(_) if catch_up => Start::CatchUp(latest),
        Some(_) => Start::Skip(latest),
    }
}

/// The next slot to wait for: the first after both `now` and the last slot handled (which may
/// lie ahead of this node's clock when another node's clock runs early).
pub fn next_slot(
    timetable: &Timetable,
    last: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    timetable.next_after(last.map_or(now, |last| last.max(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_config::Schedule;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("test instant")
            .with_timezone(&Utc)
    }

    /// Every 10 minutes.
    fn every_ten() -> Timetable {
        Schedule {
            cron: "*/10 * * * *".into(),
            timezone: None,
            message: true,
            path: None,
        }
        .timetable(0)
        .expect("valid")
    }

    #[test]
    fn a_first_start_records_the_latest_past_slot_without_firing() {
        let start = at_start(&every_ten(), None, at("2026-05-01T12:34:00Z"), true);
        assert_eq!(start, Start::Baseline(at("2026-05-01T12:30:00Z")));
    }

    #[test]
    fn nothing_fires_at_start_when_no_slot_came_due_since_the_last_fire() {
        let last = Some(at("2026-05-01T12:30:00Z"));
        let start = at_start(&every_ten(), last, at("2026-05-01T12:39:59Z"), true);
        assert_eq!(start, Start::Wait);
    }

    #[test]
    fn an_outage_over_many_slots_catches_up_once_with_the_latest() {
        let last = Some(at("2026-05-01T09:00:00Z"));
        let start = at_start(&every_ten(), last, at("2026-05-01T12:34:00Z"), true);
        assert_eq!(start, Start::CatchUp(at("2026-05-01T12:30:00Z")));
    }

    #[test]
    fn with_catch_up_off_a_missed_slot_is_skipped() {
        let last = Some(at("2026-05-01T12:20:00Z"));
        let start = at_start(&every_ten(), last, at("2026-05-01T12:34:00Z"), false);
        assert_eq!(start, Start::Skip(at("2026-05-01T12:30:00Z")));
    }

    #[test]
    fn the_next_slot_follows_now_or_a_later_last_slot() {
        let now = at("2026-05-01T12:34:00Z");
        assert_eq!(
            next_slot(&every_ten(), None, now),
            Some(at("2026-05-01T12:40:00Z"))
        );
        let ahead = Some(at("2026-05-01T12:40:00Z"));
        assert_eq!(
            next_slot(&every_ten(), ahead, now),
            Some(at("2026-05-01T12:50:00Z"))
        );
        // A slot is never waited for twice: at the slot itself the next one is after it.
        let slot = at("2026-05-01T12:40:00Z");
        assert_eq!(
            next_slot(&every_ten(), Some(slot), slot),
            Some(at("2026-05-01T12:50:00Z"))
        );
    }
}
