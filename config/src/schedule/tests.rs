use super::*;
use crate::Manifest;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("test instant")
        .with_timezone(&Utc)
}

fn schedule(cron: &str, timezone: Option<&str>) -> Schedule {
    Schedule {
        cron: cron.into(),
        timezone: timezone.map(Into::into),
        message: true,
        path: None,
    }
}

fn refused(text: &str) -> (usize, String) {
    match Manifest::from_toml(text) {
        Err(Error::InvalidSchedule { index, problem, .. }) => (index, problem),
        other => panic!("expected an invalid schedule, got {other:?}"),
    }
}

#[test]
fn five_fields_fire_on_the_minute_and_six_fields_on_the_second() {
    let minutes = schedule("*/5 * * * *", None).timetable(0).expect("parses");
    assert_eq!(
        minutes.next_after(at("2026-03-01T10:02:30Z")),
        Some(at("2026-03-01T10:05:00Z"))
    );
    let seconds = schedule("*/2 * * * * *", None)
        .timetable(0)
        .expect("parses");
    assert_eq!(
        seconds.next_after(at("2026-03-01T10:02:30Z")),
        Some(at("2026-03-01T10:02:32Z"))
    );
}

#[test]
fn next_is_strictly_after_and_latest_includes_the_instant() {
    let hourly = schedule("0 * * * *", None).timetable(0).expect("parses");
    let slot = at("2026-03-01T10:00:00Z");
    assert_eq!(hourly.next_after(slot), Some(at("2026-03-01T11:00:00Z")));
    assert_eq!(hourly.latest_at_or_before(slot), Some(slot));
    assert_eq!(
        hourly.latest_at_or_before(at("2026-03-01T10:59:59Z")),
        Some(slot)
    );
}

#[test]
fn a_time_zone_moves_the_slots_with_daylight_saving() {
    let nine = schedule("0 9 * * *", Some("Europe/Paris"))
        .timetable(0)
        .expect("parses");
    // CET (UTC+1) in winter, CEST (UTC+2) after the last Sunday of March.
    assert_eq!(
        nine.next_after(at("2026-03-01T00:00:00Z")),
        Some(at("2026-03-01T08:00:00Z"))
    );
    assert_eq!(
        nine.next_after(at("2026-04-01T00:00:00Z")),
        Some(at("2026-04-01T07:00:00Z"))
    );
}

#[test]
fn a_manifest_with_schedules_parses_and_keeps_its_targets() {
    let manifest = Manifest::from_toml(
        "[[schedules]]\ncron = \"*/10 * * * * *\"\nmessage = true\n\n[[schedules]]\ncron = \"0 3 * * MON\"\ntimezone = \"Europe/Paris\"\npath = \"/tick\"\n",
    )
    .expect("valid");
    assert_eq!(manifest.schedules.len(), 2);
    assert_eq!(manifest.schedules[0].target(), ScheduleTarget::Message);
    assert_eq!(
        manifest.schedules[1].target(),
        ScheduleTarget::Http("/tick")
    );
}

#[test]
fn bad_schedules_are_refused_naming_their_index() {
    let ok = "[[schedules]]\ncron = \"* * * * *\"\nmessage = true\n\n";
    let (index, problem) = refused(&format!(
        "{ok}[[schedules]]\ncron = \"61 * * * *\"\nmessage = true\n"
    ));
    assert_eq!(index, 1);
    assert!(problem.contains("does not parse"), "{problem}");
    let (_, problem) = refused(
        "[[schedules]]\ncron = \"* * * * *\"\ntimezone = \"Mars/Olympus\"\nmessage = true\n",
    );
    assert!(problem.contains("IANA"), "{problem}");
    let (_, problem) =
        refused("[[schedules]]\ncron = \"* * * * *\"\nmessage = true\npath = \"/tick\"\n");
    assert!(problem.contains("both"), "{problem}");
    let (_, problem) = refused("[[schedules]]\ncron = \"* * * * *\"\n");
    assert!(problem.contains("no target"), "{problem}");
    let (_, problem) = refused("[[schedules]]\ncron = \"* * * * *\"\npath = \"tick\"\n");
    assert!(problem.contains("request path"), "{problem}");
    let (_, problem) = refused("[[schedules]]\ncron = \"0 0 31 2 *\"\nmessage = true\n");
    assert!(problem.contains("never fires"), "{problem}");
    let (_, problem) = refused("[[schedules]]\ncron = \"0 0 0 1 1 * 2030\"\nmessage = true\n");
    assert!(problem.contains("does not parse"), "{problem}");
}

#[test]
fn too_many_schedules_are_refused() {
    let one = "[[schedules]]\ncron = \"* * * * *\"\nmessage = true\n";
    let text = one.repeat(MAX_SCHEDULES + 1);
    assert!(matches!(
        Manifest::from_toml(&text),
        Err(Error::InvalidManifest { .. })
    ));
    assert!(Manifest::from_toml(&one.repeat(MAX_SCHEDULES)).is_ok());
}

#[test]
fn every_second_is_the_densest_pattern_allowed() {
    assert!(schedule("* * * * * *", None).validate(0).is_ok());
}
