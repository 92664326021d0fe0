//! The admin API under `/functions`: deploy, list, inspect and delete functions, choose which of
//! their kept versions serve, and read their recent guest log lines.

mod deploy;
mod functions;
pub mod logs;
mod owner;
mod query;
mod upload;
mod versions;

pub use deploy::{prestart, release, retire, start};
pub use versions::set_traffic_if;

use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::{Method, Request};
use std::sync::Arc;

/// Path prefix of the admin API.
pub const PREFIX: &str = "/functions";

/// Passes `req` on if it carries the admin token (the admin API and `/publish`), else answers 401
/// after reading the body, so the client sees the refusal rather than a reset (lingering close).
pub async fn authorize(
    gw: &Gateway,
    req: Request<Incoming>,
) -> Result<Request<Incoming>, ApiError> {
    if let Err(refused) = gw.access.admin(&req) {
        crate::client_body::discard(req).await;
        return Err(refused);
    }
    Ok(req)
}

/// Serves one admin request (the caller has matched the prefix and [`authorize`]d it).
pub async fn handle(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let path = req.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    // One '/' only: `/functions//hello` is not another spelling of `/functions/hello`.
    match (req.method(), rest.strip_prefix('/').unwrap_or(rest)) {
        (&Method::GET, "") => Ok(functions::list(gw)),
        (_, "") => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
        }),
        (method, name) if !name.contains('/') => {
            let name = name.to_owned();
            match *method {
                Method::PUT => deploy::deploy(gw, &name, req).await,
                Method::GET => functions::get(gw, &name).await,
                Method::DELETE => {
                    let [purge] = query::switches(req.uri().query(), ["purge"])?;
                    functions::delete(gw, &name, purge).await
                }
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                }),
            }
        }
        (method, rest)
            if rest
                .strip_suffix("/logs")
                .is_some_and(|n| !n.is_empty() && !n.contains('/')) =>
        {
            let name = rest.strip_suffix("/logs").unwrap_or_default();
            match *method {
                Method::GET => {
                    let [follow] = query::switches(req.uri().query(), ["follow"])?;
                    logs::logs(gw, name, follow)
                }
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                }),
            }
        }
        (method, rest) if versions_path(rest).is_some() => {
            let (name, what) = versions_path(rest).unwrap_or_default();
            let name = name.to_owned();
            match (what, method) {
                ("versions", &Method::GET) => versions::list(gw, &name),
                ("rollback", &Method::POST) => versions::rollback(gw, &name, req).await,
                ("traffic", &Method::PUT) => versions::traffic(gw, &name, req).await,
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                }),
            }
        }
        (method, rest)
            if rest
                .strip_suffix("/owner")
                .is_some_and(|n| !n.contains('/')) =>
        {
            let name = rest.trim_end_matches("/owner").to_owned();
            match *method {
                Method::PUT => owner::transfer(gw, &name, req).await,
                Method::GET => owner::get(gw, &name),
                _ => Err(ApiError::MethodNotAllowed {
                    method: method.to_string(),
                }),
            }
        }
        _ => Err(ApiError::NotFound {
            path: path.to_owned(),
        }),
    }
}

/// `NAME/versions`, `NAME/rollback` or `NAME/traffic`, split into the name and the last segment.
fn versions_path(rest: &str) -> Option<(&str, &str)> {
    let (name, what) = rest.split_once('/')?;
    (["versions", "rollback", "traffic"].contains(&what) && !name.is_empty())
        .then_some((name, what))
}
