//! `cold`: functions with nothing in memory, each called once — time to first byte of a cold
//! start over HTTP — and right after once more, warm, for contrast.

use super::Round;
use crate::admin::FunctionState;
use crate::error::{Error, Result};
use crate::stats::{Recorder, Stats};
use std::time::{Duration, Instant};

/// The idle timeout the functions are deployed with: short, so that a round waits little for
/// all of them to go cold, and long enough that the warm call right after the cold one is warm.
pub(super) const IDLE_TIMEOUT: Duration = Duration::from_millis(50);

/// How long to wait for all functions to go cold before giving up.
const COLD_DEADLINE: Duration = Duration::from_secs(30);

/// How often to ask a function's state while it is still warm.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What to wait when the admin API does not report states (not a wasmgate): many idle timeouts.
const BLIND_WAIT: Duration = Duration::from_secs(1);

/// Waits until every function is cold, then calls each once cold and once warm, one request at
/// a time, recording time to first byte (response headers received).
pub(super) async fn round(round: &Round<'_>) -> Result<Vec<(String, Stats)>> {
    wait_until_cold(round).await?;
    // Open the connection now, on a path that loads no function, so no cold start pays for it.
    let health = round.endpoint.health.clone();
    let _ = round.endpoint.client.get(health).await;

    let cold = Recorder::new()?;
    let warm = Recorder::new()?;
    let start = Instant::now();
    {
        let _progress = round.progress(&cold, "cold starts", None);
        for function in 0..round.endpoint.names.len() {
            for recorder in [&cold, &warm] {
                let sent = Instant::now();
                let reply = round.endpoint.caller.call(function).await;
                let first_byte = reply.headers_at.unwrap_or(reply.done_at);
                recorder.record(
                    function,
                    reply.outcome,
                    first_byte.saturating_duration_since(sent),
                );
            }
        }
    }
    let elapsed = start.elapsed();
    for recorder in [&cold, &warm] {
        recorder.with(|stats| stats.finish_run(elapsed));
    }
    Ok(vec![
        ("cold".to_owned(), cold.snapshot()),
        ("warm".to_owned(), warm.snapshot()),
    ])
}

/// Polls `GET /functions/{name}` until each function reports `cold`; when the server does not
/// report states, waits [`BLIND_WAIT`] instead.
async fn wait_until_cold(round: &Round<'_>) -> Result<()> {
    let admin = &round.endpoint.admin;
    let start = Instant::now();
    for name in &round.endpoint.names {
        loop {
            match admin.state(name).await? {
                Some(FunctionState::Cold) => break,
                Some(FunctionState::Warm) if start.elapsed() < COLD_DEADLINE => {
                    tokio::time::sleep(POLL_INTERVAL).await;
                }
                Some(FunctionState::Warm) => {
                    return Err(Error::StillWarm {
                        name: name.clone(),
                        admin: admin.base().to_owned(),
                        waited_s: COLD_DEADLINE.as_secs(),
                    });
                }
                None => {
                    tokio::time::sleep(BLIND_WAIT).await;
                    return Ok(());
                }
            }
        }
    }
    Ok(())
}
