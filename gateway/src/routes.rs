//! Manifest routes: extra paths (matchit syntax) that invoke a function with the full path.
//!
//! The `/fn/{name}` prefix routes need no table: the name is the first segment after `/fn/`.

use crate::catalog::Deployed;
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Arc;
use wasmgate_config::Route;

/// Refuses routes of one manifest that cannot share a router (`/x/{a}` beside `/x/{b}`, or
/// `/x/{a}` beside `/x/{*rest}`) as an invalid manifest. Manifest validation knows the route
/// syntax, not matchit's overlap rules; without this check such a deploy compiled, then failed as a
/// route conflict with itself.
pub fn check_own(routes: &[Route]) -> Result<(), ApiError> {
    let mut router = matchit::Router::new();
    for route in routes {
        router
            .insert(route.as_str(), ())
            .map_err(|e| refused_route(route.as_str(), &e))?;
    }
    Ok(())
}

fn refused_route(route: &str, e: &matchit::InsertError) -> ApiError {
    ApiError::Config(wasmgate_config::Error::InvalidManifest {
        reason: format!(
            "http.routes `{route}` cannot be served: {e}; drop it, or make it differ from the \
             manifest's other routes in a literal segment"
        ),
    })
}

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
                        _ => return Err(refused_route(route, &e)),
                    };
                    // Its own routes overlapping is its manifest's fault, not a conflict with itself.
                    if owner == deployed.record.name {
                        return Err(refused_route(route, &e));
                    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(texts: &[&str]) -> Vec<Route> {
        texts.iter().map(|t| t.parse().unwrap()).collect()
    }

    #[test]
    fn own_routes_that_overlap_are_an_invalid_manifest_not_a_conflict_with_itself() {
        for overlapping in [
            ["/x/{a}", "/x/{b}"],
            ["/x/{a}", "/x/{*rest}"],
            ["/a{b}c", "/a{d}e"],
        ] {
            let refused = check_own(&routes(&overlapping)).unwrap_err();
            let (status, code, _) = refused.classify();
            assert_eq!(
                (status.as_u16(), code),
                (400, "invalid_manifest"),
                "{overlapping:?}"
            );
        }
        assert!(check_own(&routes(&["/x/{a}", "/x/b", "/x/{a}/y", "/files/{*rest}"])).is_ok());
        assert!(check_own(&[]).is_ok());
    }
}
