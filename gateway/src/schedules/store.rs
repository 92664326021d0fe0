//! Where the last fired slot of every schedule is kept, so a slot never fires twice: a redb file
//! in the data dir on a node alone, the `wg_schedules` KV bucket in cluster mode.
//!
//! Both answer one question atomically: "move this schedule to slot S, unless it is there or
//! past it already?" A `true` answer is durable before it returns (redb commits are fsynced; a
//! JetStream write is acknowledged after it is stored), and only then does the caller deliver.

use crate::error::ApiError;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::Arc;
use wasmgate_capabilities::private_files;
use wasmgate_cluster::{Cluster, FiredSlot};

/// File in the data dir holding the slots on a node alone.
pub const SLOTS_FILE: &str = "schedules.redb";

/// redb's page cache for the slots: one small row per schedule.
const CACHE_BYTES: usize = 1 << 20;

/// Last fired slot by `<function>/<index>`, as [`FiredSlot`] JSON.
const SLOTS: TableDefinition<&str, &[u8]> = TableDefinition::new("slots");

/// The last fired slot of every schedule: one seam, two places.
#[derive(Clone)]
pub enum SlotStore {
    /// This node's own file (`schedules.redb` in the data dir).
    Local(Arc<Database>),
    /// The cluster's `wg_schedules` bucket, shared by every node.
    Cluster(Arc<Cluster>),
}

impl SlotStore {
    /// Opens `data_dir/schedules.redb`, or uses the cluster's bucket when there is a cluster.
    pub fn open(data_dir: &Path, cluster: Option<Arc<Cluster>>) -> Result<Self, ApiError> {
        if let Some(cluster) = cluster {
            return Ok(SlotStore::Cluster(cluster));
        }
        let path = data_dir.join(SLOTS_FILE);
        private_files::create_file(&path)
            .map_err(|e| storage(format!("{}: {e}", path.display())))?;
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(storage)?;
        let txn = db.begin_write().map_err(storage)?;
        txn.open_table(SLOTS).map_err(storage)?;
        txn.commit().map_err(storage)?;
        Ok(SlotStore::Local(Arc::new(db)))
    }

    /// The last slot fired (or passed over) for schedule `index` of `function`.
    pub async fn last(&self, function: &str, index: usize) -> Result<Option<FiredSlot>, ApiError> {
        match self {
            SlotStore::Cluster(cluster) => {
                cluster.fired_slot(function, index).await.map_err(storage)
            }
            SlotStore::Local(db) => {
                let (db, key) = (db.clone(), key(function, index));
                blocking(move || {
                    let txn = db.begin_read().map_err(storage)?;
                    let table = txn.open_table(SLOTS).map_err(storage)?;
                    let Some(value) = table.get(key.as_str()).map_err(storage)? else {
                        return Ok(None);
                    };
                    serde_json::from_slice(value.value())
                        .map(Some)
                        .map_err(storage)
                })
                .await
            }
        }
    }

    /// Moves schedule `index` of `function` to `fired`, durably: `true` when this call moved it
    /// (the caller fires the slot), `false` when it already held that slot or a later one under
    /// the same pattern (fired here before a restart, or by another node).
    pub async fn claim(
        &self,
        function: &str,
        index: usize,
        fired: &FiredSlot,
    ) -> Result<bool, ApiError> {
        match self {
            SlotStore::Cluster(cluster) => cluster
                .claim_slot(function, index, fired)
                .await
                .map_err(storage),
            SlotStore::Local(db) => {
                let (db, key, fired) = (db.clone(), key(function, index), fired.clone());
                blocking(move || {
                    let value = serde_json::to_vec(&fired).map_err(storage)?;
                    let txn = db.begin_write().map_err(storage)?;
                    {
                        let mut table = txn.open_table(SLOTS).map_err(storage)?;
                        let held: Option<FiredSlot> =
                            match table.get(key.as_str()).map_err(storage)? {
                                Some(v) => serde_json::from_slice(v.value()).ok(),
                                None => None,
                            };
                        if held.is_some_and(|h| h.pattern == fired.pattern && h.slot >= fired.slot)
                        {
                            return Ok(false);
                        }
                        table
                            .insert(key.as_str(), value.as_slice())
                            .map_err(storage)?;
                    }
                    txn.commit().map_err(storage)?;
                    Ok(true)
                })
                .await
            }
        }
    }

    /// Forgets the slots of a deleted function's `schedules` schedules, so a later function of
    /// the same name starts afresh.
    pub async fn forget(&self, function: &str, schedules: usize) -> Result<(), ApiError> {
        match self {
            SlotStore::Cluster(cluster) => cluster
                .forget_slots(function, schedules)
                .await
                .map_err(storage),
            SlotStore::Local(db) => {
                let (db, function) = (db.clone(), function.to_owned());
                blocking(move || {
                    let txn = db.begin_write().map_err(storage)?;
                    {
                        let mut table = txn.open_table(SLOTS).map_err(storage)?;
                        for index in 0..schedules {
                            table
                                .remove(key(&function, index).as_str())
                                .map_err(storage)?;
                        }
                    }
                    txn.commit().map_err(storage)
                })
                .await
            }
        }
    }
}

fn key(function: &str, index: usize) -> String {
    format!("{function}/{index}")
}

/// Runs a redb transaction (which may fsync) off the async workers.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal {
            reason: format!("schedule store task failed: {e}"),
        })?
}

fn storage(e: impl std::fmt::Display) -> ApiError {
    ApiError::Storage {
        reason: format!("schedule slots: {e}"),
    }
}

#[cfg(test)]
mod tests {
    //! One suite, both stores: a temporary redb file, and a real `nats-server` with JetStream.
    use super::*;
    use wasmgate_tests::NatsServer;

    fn fired(slot: i64, pattern: &str) -> FiredSlot {
        FiredSlot {
            slot,
            pattern: pattern.into(),
        }
    }

    const EVERY_SECOND: &str = "* * * * * * UTC";

    /// Claims are once per slot and forward only; another schedule has its own slots; a changed
    /// pattern or a forget starts afresh.
    async fn once_per_slot(store: SlotStore) {
        assert_eq!(store.last("f", 0).await.unwrap(), None);
        assert!(
            store
                .claim("f", 0, &fired(100, EVERY_SECOND))
                .await
                .unwrap()
        );
        assert!(
            !store
                .claim("f", 0, &fired(100, EVERY_SECOND))
                .await
                .unwrap()
        );
        assert!(!store.claim("f", 0, &fired(99, EVERY_SECOND)).await.unwrap());
        assert!(
            store
                .claim("f", 1, &fired(100, EVERY_SECOND))
                .await
                .unwrap()
        );
        assert_eq!(
            store.last("f", 0).await.unwrap(),
            Some(fired(100, EVERY_SECOND))
        );
        assert!(
            store
                .claim("f", 0, &fired(101, EVERY_SECOND))
                .await
                .unwrap()
        );
        assert!(
            store
                .claim("f", 0, &fired(90, "*/2 * * * * * UTC"))
                .await
                .unwrap()
        );
        store.forget("f", 2).await.unwrap();
        assert_eq!(store.last("f", 0).await.unwrap(), None);
        assert_eq!(store.last("f", 1).await.unwrap(), None);
        assert!(store.claim("f", 0, &fired(90, EVERY_SECOND)).await.unwrap());
    }

    /// Many claims of one slot at once: exactly one wins.
    async fn one_winner(stores: Vec<SlotStore>) {
        let claims = stores.into_iter().map(|store| {
            tokio::spawn(async move { store.claim("g", 0, &fired(500, EVERY_SECOND)).await })
        });
        let mut won = 0;
        for claim in claims {
            won += usize::from(claim.await.unwrap().unwrap());
        }
        assert_eq!(won, 1);
    }

    #[tokio::test]
    async fn the_local_store_fires_each_slot_once_also_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        once_per_slot(SlotStore::open(dir.path(), None).unwrap()).await;
        let store = SlotStore::open(dir.path(), None).unwrap();
        one_winner(vec![store.clone(); 8]).await;
        drop(store);
        let reopened = SlotStore::open(dir.path(), None).unwrap();
        assert_eq!(
            reopened.last("g", 0).await.unwrap(),
            Some(fired(500, EVERY_SECOND))
        );
        assert!(
            !reopened
                .claim("g", 0, &fired(500, EVERY_SECOND))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn the_cluster_store_fires_each_slot_once_across_nodes() {
        let nats = NatsServer::start_jetstream().await.unwrap();
        let connect = || async {
            let cluster = Cluster::connect(wasmgate_cluster::ClusterOptions {
                url: nats.url(),
                replicas: 1,
                heartbeat: std::time::Duration::from_millis(200),
                missed_heartbeats: 3,
                calls: wasmgate_cluster::CallOptions {
                    max_queued: 2,
                    retention: std::time::Duration::from_secs(60),
                    ack_wait: std::time::Duration::from_secs(1),
                },
                credentials: None,
            })
            .await
            .unwrap();
            SlotStore::Cluster(Arc::new(cluster))
        };
        once_per_slot(connect().await).await;
        let mut nodes = Vec::new();
        for _ in 0..4 {
            nodes.push(connect().await);
        }
        one_winner(nodes).await;
    }
}
