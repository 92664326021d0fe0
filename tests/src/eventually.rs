//! Waiting for a condition with a deadline, instead of sleeping and hoping.

use std::future::Future;
use std::time::Duration;

/// Polls `probe` every 25 ms until `accept` holds for its value, or fails after `deadline` with the
/// last value seen.
pub async fn eventually<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut probe: F,
    accept: impl Fn(&T) -> bool,
) -> anyhow::Result<T>
where
    T: std::fmt::Debug,
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let until = tokio::time::Instant::now() + deadline;
    loop {
        let value = probe().await;
        if accept(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= until {
            anyhow::bail!("{what}: not true within {deadline:?}; last seen {value:?}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
