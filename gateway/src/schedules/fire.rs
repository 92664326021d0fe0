//! One fire of a schedule slot, after it was claimed: a CloudEvent message to the guest's
//! `wasi:messaging/incoming-handler`, or a `POST` to the schedule's path. One attempt: a slot
//! is a point in time, and a late retry would land on the next one's turf; the outcome is
//! counted in `wasmgate_schedule_fires_total` and a failure logged.

use crate::catalog::Deployed;
use crate::invoke::HostRequestFailed;
use crate::state::Gateway;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use http_body_util::Full;
use wasmgate_capabilities::messaging::Message;
use wasmgate_config::ScheduleTarget;

/// CloudEvents `type` of every schedule fire.
pub const EVENT_TYPE: &str = "dev.wasmgate.schedule";

/// Header of an HTTP fire naming its slot (RFC 3339, UTC); the CloudEvents `ce-*` headers of
/// the binary HTTP binding come with it.
pub const SLOT_HEADER: &str = "wasmgate-schedule-slot";

/// Subject prefix of schedule messages: `wasmgate.schedule.<function>.<index>` is the topic the
/// guest sees (nothing is published on the bus).
pub const SUBJECT_PREFIX: &str = "wasmgate.schedule.";

/// Delivers slot `slot` of schedule `index` to `deployed` and counts the outcome.
pub async fn fire(gw: &Gateway, deployed: &Deployed, index: usize, slot: DateTime<Utc>) {
    let name = &deployed.record.name;
    let Some(schedule) = deployed.record.manifest.schedules.get(index) else {
        return;
    };
    let time = slot.to_rfc3339_opts(SecondsFormat::Secs, true);
    // The CloudEvents context (https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md):
    // `id` is unique per slot, so a consumer can tell a fire it has seen.
    let attributes = [
        ("ce-specversion", "1.0".to_owned()),
        ("ce-id", format!("{name}/{index}/{time}")),
        (
            "ce-source",
            format!("/wasmgate/functions/{name}/schedules/{index}"),
        ),
        ("ce-type", EVENT_TYPE.to_owned()),
        ("ce-time", time.clone()),
    ];
    let data = serde_json::json!({
        "function": name,
        "schedule": index,
        "cron": schedule.cron,
        "timezone": schedule.timezone.as_deref().unwrap_or("UTC"),
        "slot": time,
    })
    .to_string();
    let outcome = match schedule.target() {
        ScheduleTarget::Message => {
            let message = Message {
                subject: format!("{SUBJECT_PREFIX}{name}.{index}"),
                reply_to: None,
                content_type: Some("application/json".into()),
                metadata: attributes
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
                data: Bytes::from(data),
            };
            by_message(gw, deployed, message).await
        }
        ScheduleTarget::Http(path) => by_http(gw, deployed, path, &attributes, &time, data).await,
    };
    let label = match &outcome {
        Ok(()) => "delivered",
        Err(reason) => {
            tracing::warn!(function = %name, schedule = index, slot = %time, error = %reason, "schedule fire failed");
            "failed"
        }
    };
    gw.metrics
        .schedule_fires
        .with_label_values(&[name.as_str(), label])
        .inc();
}

async fn by_message(gw: &Gateway, deployed: &Deployed, message: Message) -> Result<(), String> {
    crate::triggers::attempt_once(gw, deployed, &message)
        .await
        .map_err(|failed| failed.detail)
}

async fn by_http(
    gw: &Gateway,
    deployed: &Deployed,
    path: &str,
    attributes: &[(&str, String)],
    time: &str,
    data: String,
) -> Result<(), String> {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(format!("http://localhost{path}"))
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(SLOT_HEADER, time);
    for (name, value) in attributes {
        request = request.header(*name, value);
    }
    let request = request
        .body(Full::new(Bytes::from(data)))
        .map_err(|e| e.to_string())?;
    let (status, _body) = crate::invoke::host_request(gw, deployed, request)
        .await
        .map_err(|(HostRequestFailed::Refused(e) | HostRequestFailed::Failed(e))| e.to_string())?;
    if status.is_server_error() {
        return Err(format!("guest answered {status}"));
    }
    Ok(())
}
