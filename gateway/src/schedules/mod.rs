//! Cron triggers: each `[[schedules]]` entry of a deployed function is a task that waits for the
//! schedule's next slot, claims it in the [`SlotStore`] (durably, before anything is delivered)
//! and only then fires it (a message or a `POST`, see [`EVENT_TYPE`] and [`SLOT_HEADER`]).
//!
//! Once per slot: a slot fires only on the node whose claim moved the stored last slot to it, so
//! a restart never fires a slot again (the stored slot is at or past it) and in cluster mode two
//! nodes never fire the same slot (the claim is a compare-and-swap in `wg_schedules`). A slot
//! that fell due while the gateway was down fires once at start when `[schedules] catch_up` is on
//! ([`plan::at_start`]). The task holds no instance: a function with only schedules cold-starts at
//! its fire and scales to zero after it like any other. Replacing or deleting the function stops
//! its tasks with its trigger subscriptions.

mod fire;
pub mod plan;
mod store;

pub use fire::{EVENT_TYPE, SLOT_HEADER, SUBJECT_PREFIX};
pub use store::{SLOTS_FILE, SlotStore};

use crate::catalog::Deployed;
use crate::state::Gateway;
use chrono::{DateTime, Utc};
use plan::Start;
use std::sync::Arc;
use std::time::Duration;
use wasmgate_cluster::FiredSlot;
use wasmgate_config::{Schedule, Timetable};

/// Wait before trying the slot store again after it failed (NATS away, a disk error): short
/// against a one-second schedule, long enough not to spin.
const STORE_RETRY: Duration = Duration::from_millis(500);

/// Starts one task per schedule of `deployed`; they stop with its trigger subscriptions.
pub fn start(gw: &Arc<Gateway>, deployed: &Arc<Deployed>) {
    for (index, schedule) in deployed.record.manifest.schedules.iter().enumerate() {
        match schedule.timetable(index) {
            Ok(timetable) => {
                let task = tokio::spawn(run(gw.clone(), deployed.clone(), index, timetable));
                deployed.subscriptions.add(task.abort_handle());
            }
            // Deploy validated it; a record from another version may not parse here.
            Err(e) => {
                tracing::error!(function = %deployed.record.name, schedule = index, error = %e, "schedule not started")
            }
        }
    }
}

/// The pattern a stored slot was claimed under: a schedule whose pattern or time zone changed
/// starts afresh instead of inheriting the old one's slots.
fn pattern(schedule: &Schedule) -> String {
    format!(
        "{} {}",
        schedule.cron,
        schedule.timezone.as_deref().unwrap_or("UTC")
    )
}

/// One schedule's life: settle what fell due while it was not running, then claim and fire
/// every slot as it comes.
async fn run(gw: Arc<Gateway>, deployed: Arc<Deployed>, index: usize, timetable: Timetable) {
    let name = deployed.record.name.clone();
    let Some(schedule) = deployed.record.manifest.schedules.get(index) else {
        return;
    };
    let pattern = pattern(schedule);
    let last = loop {
        match gw.slots.last(&name, index).await {
            Ok(held) => {
                break held
                    .filter(|h| h.pattern == pattern)
                    .and_then(|h| DateTime::from_timestamp(h.slot, 0));
            }
            Err(e) => {
                tracing::warn!(function = %name, schedule = index, error = %e, "cannot read the last slot; retrying");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    };
    let now = Utc::now();
    let claim = |slot: DateTime<Utc>| {
        let (gw, name, pattern) = (gw.clone(), name.clone(), pattern.clone());
        async move { claim(&gw, &name, index, pattern, slot).await }
    };
    match plan::at_start(&timetable, last, now, gw.settings.schedules.catch_up) {
        Start::Wait => {}
        Start::Baseline(slot) => {
            claim(slot).await;
        }
        Start::CatchUp(slot) => {
            if claim(slot).await {
                tracing::info!(function = %name, schedule = index, slot = %slot, "catching up a slot missed while down");
                spawn_fire(&gw, &deployed, index, slot);
            }
        }
        Start::Skip(slot) => {
            if claim(slot).await {
                gw.metrics
                    .schedule_fires
                    .with_label_values(&[name.as_str(), "skipped"])
                    .inc();
            }
        }
    }
    let mut cursor = last;
    while let Some(slot) = plan::next_slot(&timetable, cursor, Utc::now()) {
        sleep_until(slot).await;
        cursor = Some(slot);
        if claim(slot).await {
            spawn_fire(&gw, &deployed, index, slot);
        }
    }
    tracing::info!(function = %name, schedule = index, "schedule has no further slot");
}

/// Claims `slot`, retrying a few times while the store fails; `false` when another claim holds
/// it (or the store kept failing: the slot is given up, never fired unclaimed).
async fn claim(
    gw: &Gateway,
    name: &str,
    index: usize,
    pattern: String,
    slot: DateTime<Utc>,
) -> bool {
    let fired = FiredSlot {
        slot: slot.timestamp(),
        pattern,
    };
    for _ in 0..CLAIM_TRIES {
        match gw.slots.claim(name, index, &fired).await {
            Ok(won) => return won,
            Err(e) => {
                tracing::warn!(function = %name, schedule = index, slot = %slot, error = %e, "cannot claim a slot; retrying");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    }
    tracing::error!(function = %name, schedule = index, slot = %slot, "slot not fired: its claim kept failing");
    false
}

/// Claims tried per slot while the store fails: a slot unclaimed after about two seconds is
/// given up rather than fired late and out of order.
const CLAIM_TRIES: usize = 4;

/// Fires in its own task, so a slow guest does not make the schedule miss its next slot.
fn spawn_fire(gw: &Arc<Gateway>, deployed: &Arc<Deployed>, index: usize, slot: DateTime<Utc>) {
    let (gw, deployed) = (gw.clone(), deployed.clone());
    tokio::spawn(async move { fire::fire(&gw, &deployed, index, slot).await });
}

/// Sleeps until the wall clock reads `at` (checked again on waking, since the runtime's timer
/// follows the monotonic clock).
async fn sleep_until(at: DateTime<Utc>) {
    loop {
        let Ok(left) = (at - Utc::now()).to_std() else {
            return;
        };
        if left.is_zero() {
            return;
        }
        tokio::time::sleep(left).await;
    }
}
