//! Manifest routes: extra paths (matchit syntax) that invoke a function with the full path.
//!
//! The `/fn/{name}` prefix routes need no table: the name is the first segment after `/fn/`.

use crate::catalog::Deployed;
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Arc;

/// Manifest routes of every deployed function.
#[derive(Default)]
pub struct RouteTable {
    router: matchit::Router<Arc<Deployed>>,
}

impl RouteTable {
    /// Builds the table, refusing routes that overlap another function's; `newcomer`'s routes go
    /// in last so a conflict is reported against the function that already held the route.
    pub fn build(
        functions: &HashMap<String, Arc<Deployed>>,
        newcomer: Option<&str>,
    ) -> Result<Self, ApiError> {
        let mut router = matchit::Router::new();
        let mut owners: HashMap<&str, &str> = HashMap::new();
        let mut sorted: Vec<&Arc<Deployed>> = functions.values().collect();
        // Deterministic order, so the same set always reports the same conflict.
        sorted.sort_by_key(|d| (Some(d.record.name.as_str()) == newcomer, &d.record.name));
        for deployed in sorted {
            for route in &deployed.record.manifest.http.routes {
                let route = route.as_str();
                if let Err(e) = router.insert(route, deployed.clone()) {
                    let owner = match &e {
                        matchit::InsertError::Conflict { with } => {
                            owners.get(with.as_str()).copied().unwrap_or("unknown")
                        }
                        _ => {
                            return Err(ApiError::BadRequest {
                                reason: format!("route {route}: {e}"),
                            });
                        }
                    };
                    return Err(ApiError::RouteConflict {
                        route: route.to_owned(),
                        owner: owner.to_owned(),
                    });
                }
                owners.insert(route, &deployed.record.name);
            }
        }
        Ok(RouteTable { router })
    }

    /// The function serving `path`, if a manifest route matches it.
    pub fn find(&self, path: &str) -> Option<&Arc<Deployed>> {
        self.router.at(path).ok().map(|m| m.value)
    }
}
