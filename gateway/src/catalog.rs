//! The live set of deployed functions and their routes, swapped atomically on every change.
//!
//! Requests read a snapshot without locking; a deploy or delete builds the next snapshot and swaps
//! it in, so requests already in flight finish on the version they started with.

use crate::admission::ExecuteCache;
use crate::error::ApiError;
use crate::metrics::FunctionMetrics;
use crate::registry::Record;
use crate::routes::RouteTable;
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
#[derive(Default)]
pub struct Snapshot {
    functions: HashMap<String, Arc<Deployed>>,
    routes: RouteTable,
}

impl Snapshot {
    /// The function named `name`.
    pub fn function(&self, name: &str) -> Option<&Arc<Deployed>> {
        self.functions.get(name)
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
        let mut functions = self.snapshot().functions.clone();
        let name = deployed.record.name.clone();
        let old = functions.insert(name.clone(), deployed);
        let routes = RouteTable::build(&functions, Some(&name))?;
        self.current.store(Arc::new(Snapshot { functions, routes }));
        Ok(old)
    }

    /// Publishes many functions in one snapshot (restore at start). Caller holds the lock.
    pub fn insert_all(
        &self,
        _guard: &ChangeGuard<'_>,
        all: Vec<Arc<Deployed>>,
    ) -> Result<(), ApiError> {
        let mut functions = self.snapshot().functions.clone();
        for deployed in all {
            functions.insert(deployed.record.name.clone(), deployed);
        }
        let routes = RouteTable::build(&functions, None)?;
        self.current.store(Arc::new(Snapshot { functions, routes }));
        Ok(())
    }

    /// Unpublishes `name`; returns the version removed. Caller holds the lock.
    pub fn remove(&self, _guard: &ChangeGuard<'_>, name: &str) -> Option<Arc<Deployed>> {
        let mut functions = self.snapshot().functions.clone();
        let old = functions.remove(name)?;
        // Removing a function cannot create a route conflict.
        let routes = RouteTable::build(&functions, None).unwrap_or_default();
        self.current.store(Arc::new(Snapshot { functions, routes }));
        Some(old)
    }
}
