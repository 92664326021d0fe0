//! The live set of deployed functions and their routes, swapped atomically on every change.
//!
//! Requests read a snapshot without locking; a deploy or delete builds the next snapshot and swaps
//! it in, so requests already in flight finish on the version they started with.

use crate::admission::ExecuteCache;
use crate::error::ApiError;
use crate::metrics::FunctionMetrics;
use crate::registry::Record;
use crate::routes::RouteTable;
use crate::traffic::Split;
use crate::triggers::Subscriptions;
use arc_swap::ArcSwap;
use std::collections::HashMap;
use std::sync::Arc;
use wasmgate_pool::Function;

/// One deployed function version: its record and its pool handle.
#[derive(Debug)]
pub struct Deployed {
    /// The durable record it was deployed (or restored) from.
    pub record: Record,
    /// The pool handle that runs it.
    pub function: Function,
    /// Its last `execute` admission decision.
    pub execute: ExecuteCache,
    /// Its request counters and latency histogram.
    pub metrics: FunctionMetrics,
    /// Calls this version has taken since it was deployed or the node started (by weight, by
    /// sticky key or by tag): what `GET /functions/{name}` shows per live version.
    pub requests: std::sync::atomic::AtomicU64,
    /// Calls this version finished, its 5xx answers and their time: what a canary is judged on.
    pub stats: crate::canary::VersionStats,
    /// Its event-trigger subscriptions, stopped when it is retired.
    pub subscriptions: Subscriptions,
    /// Why it is down: restore refused it (its original failed re-verification or could not be
    /// rebuilt); `None` while it serves. A down function stays registered and refuses every call.
    pub down: Option<Arc<ApiError>>,
}

impl Deployed {
    /// Refuses with [`ApiError::FunctionDown`] when the function is down.
    pub fn serving(&self) -> Result<(), ApiError> {
        match &self.down {
            None => Ok(()),
            Some(cause) => Err(ApiError::FunctionDown {
                function: self.record.name.clone(),
                cause: cause.clone(),
            }),
        }
    }

    /// Every route that reaches this function: the `/fn/` prefix routes, then the manifest's.
    pub fn routes(&self) -> Vec<String> {
        let name = &self.record.name;
        let mut routes = vec![format!("/fn/{name}"), format!("/fn/{name}/{{*path}}")];
        routes.extend(
            self.record
                .manifest
                .http
                .routes
                .iter()
                .map(|r| r.as_str().to_owned()),
        );
        routes
    }
}

/// An immutable view of every deployed function.
///
/// Each name has one primary version (its only live version, or the one taking the largest
/// share of a split), which stands for it wherever one version must: manifest routes, triggers,
/// listings, quotas. A name whose traffic is split also has an entry in `splits`.
#[derive(Default)]
pub struct Snapshot {
    functions: HashMap<String, Arc<Deployed>>,
    splits: HashMap<String, Arc<Split>>,
    routes: RouteTable,
}

impl Snapshot {
    /// The primary version of the function named `name`.
    pub fn function(&self, name: &str) -> Option<&Arc<Deployed>> {
        self.functions.get(name)
    }

    /// The version a request for `primary`'s function goes to: `primary` itself unless the
    /// function's traffic is split (one map lookup, and none while no function is split).
    pub fn choose<'a>(
        &'a self,
        primary: &'a Arc<Deployed>,
        headers: &http::HeaderMap,
    ) -> &'a Arc<Deployed> {
        if self.splits.is_empty() {
            return primary;
        }
        match self.splits.get(&primary.record.name) {
            Some(split) => split.choose(headers),
            None => primary,
        }
    }

    /// Live version `version` of `name` (a call by tag, `/fn/NAME@K`).
    pub fn tagged(&self, name: &str, version: u64) -> Option<&Arc<Deployed>> {
        let primary = self.functions.get(name)?;
        if primary.record.version == version {
            return Some(primary);
        }
        self.splits.get(name)?.tagged(version)
    }

    /// Every live version of `name`, in version order (empty when it is not deployed).
    pub fn live(&self, name: &str) -> Vec<&Arc<Deployed>> {
        match (self.splits.get(name), self.functions.get(name)) {
            (Some(split), _) => split.versions().iter().collect(),
            (None, Some(primary)) => vec![primary],
            (None, None) => Vec::new(),
        }
    }

    /// Every live version of every function (primaries, then the other versions of splits).
    pub fn all_live(&self) -> impl Iterator<Item = &Arc<Deployed>> {
        self.functions
            .values()
            .chain(self.splits.iter().flat_map(|(name, split)| {
                let primary = self.functions.get(name);
                split
                    .versions()
                    .iter()
                    .filter(move |d| primary.is_none_or(|p| !Arc::ptr_eq(p, d)))
            }))
    }

    /// The function a manifest route sends `path` to.
    pub fn route(&self, path: &str) -> Option<&Arc<Deployed>> {
        self.routes.find(path)
    }

    /// Every function, in name order.
    pub fn sorted(&self) -> Vec<&Arc<Deployed>> {
        let mut all: Vec<_> = self.functions.values().collect();
        all.sort_by(|a, b| a.record.name.cmp(&b.record.name));
        all
    }

    /// How many functions are deployed.
    pub fn len(&self) -> usize {
        self.functions.len()
    }

    /// Whether no function is deployed.
    pub fn is_empty(&self) -> bool {
        self.functions.is_empty()
    }
}

/// The current snapshot, plus the lock that serialises changes to it.
#[derive(Default)]
pub struct Catalog {
    current: ArcSwap<Snapshot>,
    changes: tokio::sync::Mutex<()>,
}

/// Held while a change is prepared, persisted and published; one change at a time.
pub type ChangeGuard<'a> = tokio::sync::MutexGuard<'a, ()>;

impl Catalog {
    /// The snapshot requests read right now.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// Takes the change lock.
    pub async fn lock(&self) -> ChangeGuard<'_> {
        self.changes.lock().await
    }

    /// Publishes `primary` as the live version of its name, split with the other versions of
    /// `split` when given; returns the versions that were live and no longer are. Caller holds
    /// the lock.
    pub fn publish(
        &self,
        _guard: &ChangeGuard<'_>,
        primary: Arc<Deployed>,
        split: Option<Split>,
    ) -> Result<Vec<Arc<Deployed>>, ApiError> {
        let snapshot = self.snapshot();
        let name = primary.record.name.clone();
        let before: Vec<Arc<Deployed>> = snapshot.live(&name).into_iter().cloned().collect();
        let mut functions = snapshot.functions.clone();
        let mut splits = snapshot.splits.clone();
        functions.insert(name.clone(), primary.clone());
        let now: Vec<Arc<Deployed>> = match split {
            Some(split) => {
                let versions = split.versions().to_vec();
                splits.insert(name.clone(), Arc::new(split));
                versions
            }
            None => {
                splits.remove(&name);
                vec![primary]
            }
        };
        let routes = RouteTable::build(&functions, Some(&name))?;
        self.current.store(Arc::new(Snapshot {
            functions,
            splits,
            routes,
        }));
        Ok(before
            .into_iter()
            .filter(|old| !now.iter().any(|d| Arc::ptr_eq(d, old)))
            .collect())
    }

    /// Checks that `deployed` could replace whatever holds its name, without publishing anything.
    pub fn check(&self, deployed: &Arc<Deployed>) -> Result<(), ApiError> {
        let mut functions = self.snapshot().functions.clone();
        functions.insert(deployed.record.name.clone(), deployed.clone());
        RouteTable::build(&functions, Some(&deployed.record.name)).map(|_| ())
    }

    /// Publishes `deployed` under its name; returns the version it replaced. Caller holds the lock.
    pub fn insert(
        &self,
        _guard: &ChangeGuard<'_>,
        deployed: Arc<Deployed>,
    ) -> Result<Option<Arc<Deployed>>, ApiError> {
        let snapshot = self.snapshot();
        let mut functions = snapshot.functions.clone();
        let mut splits = snapshot.splits.clone();
        let name = deployed.record.name.clone();
        splits.remove(&name);
        let old = functions.insert(name.clone(), deployed);
        let routes = RouteTable::build(&functions, Some(&name))?;
        self.current.store(Arc::new(Snapshot {
            functions,
            splits,
            routes,
        }));
        Ok(old)
    }

    /// Publishes many functions in one snapshot (restore at start), with the splits of those
    /// whose traffic is split. Caller holds the lock.
    pub fn insert_all(
        &self,
        _guard: &ChangeGuard<'_>,
        all: Vec<Arc<Deployed>>,
        all_splits: Vec<Split>,
    ) -> Result<(), ApiError> {
        let snapshot = self.snapshot();
        let mut functions = snapshot.functions.clone();
        let mut splits = snapshot.splits.clone();
        for deployed in all {
            functions.insert(deployed.record.name.clone(), deployed);
        }
        for split in all_splits {
            if let Some(first) = split.versions().first() {
                splits.insert(first.record.name.clone(), Arc::new(split));
            }
        }
        let routes = RouteTable::build(&functions, None)?;
        self.current.store(Arc::new(Snapshot {
            functions,
            splits,
            routes,
        }));
        Ok(())
    }

    /// Unpublishes `name`; returns every version that was live. Caller holds the lock.
    pub fn remove(&self, _guard: &ChangeGuard<'_>, name: &str) -> Vec<Arc<Deployed>> {
        let snapshot = self.snapshot();
        let live: Vec<Arc<Deployed>> = snapshot.live(name).into_iter().cloned().collect();
        let mut functions = snapshot.functions.clone();
        let mut splits = snapshot.splits.clone();
        if functions.remove(name).is_none() {
            return Vec::new();
        }
        splits.remove(name);
        // Removing a function cannot create a route conflict.
        let routes = RouteTable::build(&functions, None).unwrap_or_default();
        self.current.store(Arc::new(Snapshot {
            functions,
            splits,
            routes,
        }));
        live
    }
}
