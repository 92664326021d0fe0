//! The sweep that deletes finished calls once `async_calls.retention` has passed.

use super::store::CallStore;
use super::worker::now;
use std::time::Duration;

/// Time between sweeps: results live for an hour by default, so a minute late is nothing, and
/// a sweep with nothing due reads one index entry.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Keeps `store` free of results older than `retention`; each sweep reads only the expiry
/// index entries that are due, on a blocking thread.
pub async fn expire_old(store: CallStore, retention: Duration) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tick.tick().await;
        let cutoff = now().saturating_sub(retention.as_secs());
        match store.off_runtime(move |s| s.expire(cutoff)).await {
            Ok(0) => {}
            Ok(removed) => tracing::debug!(removed, "expired async call results"),
            Err(e) => tracing::warn!(error = %e, "cannot expire old async calls"),
        }
    }
}
