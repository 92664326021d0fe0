//! Schedule slots shared by the cluster: KV bucket `wg_schedules`, one key
//! `slot.<function>.<index>` per schedule holding the last slot a node claimed.
//!
//! A node fires a slot only after it moved the key forward to that slot with a compare-and-swap
//! on the key's revision (JetStream's `Nats-Expected-Last-Subject-Sequence`); every other node's
//! write for the same slot then fails or finds the slot taken, so each slot fires once in the
//! cluster, whichever nodes run the schedule.

use crate::connection::Cluster;
use crate::error::{Error, Result, unavailable};
use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The schedules bucket.
pub const SLOTS_BUCKET: &str = "wg_schedules";

/// Compare-and-swap rounds one claim tries before it gives up; a lost round means another node
/// wrote the key, which then usually holds this very slot.
const CLAIM_ROUNDS: usize = 5;

/// The last slot claimed for one schedule, and the pattern it was claimed under (a replaced
/// pattern does not inherit the old one's slots).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredSlot {
    /// The slot, in seconds since the Unix epoch (cron's resolution).
    pub slot: i64,
    /// The schedule's pattern and time zone as the gateway names them.
    pub pattern: String,
}

impl Cluster {
    /// The last slot claimed for schedule `index` of `function`, if any.
    pub async fn fired_slot(&self, function: &str, index: usize) -> Result<Option<FiredSlot>> {
        let bucket = self.slots_bucket().await?;
        Ok(read(bucket, function, index)
            .await?
            .and_then(|(fired, _)| fired))
    }

    /// Claims `fired.slot` for schedule `index` of `function`: `true` when this node moved the
    /// key to it (and so must fire it), `false` when the key already holds that slot or a later
    /// one under the same pattern (another node has it).
    pub async fn claim_slot(
        &self,
        function: &str,
        index: usize,
        fired: &FiredSlot,
    ) -> Result<bool> {
        let bucket = self.slots_bucket().await?;
        let key = key(function, index);
        let value = Bytes::from(serde_json::to_vec(fired).map_err(|e| Error::Malformed {
            key: key.clone(),
            reason: e.to_string(),
        })?);
        for _ in 0..CLAIM_ROUNDS {
            let written = match read(bucket, function, index).await? {
                Some((Some(held), _))
                    if held.pattern == fired.pattern && held.slot >= fired.slot =>
                {
                    return Ok(false);
                }
                Some((_, revision)) => bucket
                    .update(&key, value.clone(), revision)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                            e.to_string(),
                        )
                    }),
                None => bucket
                    .create(&key, value.clone())
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        (
                            e.kind() == kv::CreateErrorKind::AlreadyExists,
                            e.to_string(),
                        )
                    }),
            };
            match written {
                Ok(()) => return Ok(true),
                Err((true, _)) => continue,
                Err((false, reason)) => {
                    return Err(unavailable(&format!("claiming {key}"), reason));
                }
            }
        }
        Err(Error::Conflict { key })
    }

    /// Forgets every schedule slot of `function` (it was deleted).
    pub async fn forget_slots(&self, function: &str, schedules: usize) -> Result<()> {
        let bucket = self.slots_bucket().await?;
        for index in 0..schedules {
            let key = key(function, index);
            bucket
                .purge(&key)
                .await
                .map_err(|e| unavailable(&format!("forgetting {key}"), e))?;
        }
        Ok(())
    }

    async fn slots_bucket(&self) -> Result<&kv::Store> {
        self.slots
            .get_or_try_init(|| {
                self.key_value(kv::Config {
                    bucket: SLOTS_BUCKET.to_owned(),
                    description: "wasmgate schedule slots (slot.<function>.<index>)".to_owned(),
                    history: 1,
                    storage: jetstream::stream::StorageType::File,
                    num_replicas: self.options().replicas,
                    ..Default::default()
                })
            })
            .await
    }
}

/// The slot held for a schedule (`None` after a purge) and the key's revision; `None` when the
/// key was never written.
async fn read(
    bucket: &kv::Store,
    function: &str,
    index: usize,
) -> Result<Option<(Option<FiredSlot>, u64)>> {
    let key = key(function, index);
    let entry = bucket
        .entry(&key)
        .await
        .map_err(|e| unavailable(&format!("reading {key}"), e))?;
    let Some(entry) = entry else { return Ok(None) };
    if entry.operation != kv::Operation::Put {
        // A purged key: no slot, but the next write must be an update at this revision.
        return Ok(Some((None, entry.revision)));
    }
    let fired = serde_json::from_slice(&entry.value).map_err(|e| Error::Malformed {
        key: key.clone(),
        reason: e.to_string(),
    })?;
    Ok(Some((Some(fired), entry.revision)))
}

fn key(function: &str, index: usize) -> String {
    format!("slot.{function}.{index}")
}
