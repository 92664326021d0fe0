//! The admin API under `/functions`: deploy, list, inspect and delete functions.

mod auth;
mod deploy;
mod functions;
mod upload;

pub use auth::AdminToken;
pub use deploy::{retire, start};

use crate::error::ApiError;
use crate::response::GatewayResponse;
use crate::state::Gateway;
use http::{Method, Request};
use hyper::body::Incoming;
use std::sync::Arc;

/// Path prefix of the admin API.
pub const PREFIX: &str = "/functions";

/// Runs `serve` if the admin token allows `req` (also guards `/publish`), else answers 401.
pub async fn guarded<F, Fut>(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
    serve: F,
) -> Result<GatewayResponse, ApiError>
where
    F: FnOnce(Arc<Gateway>, Request<Incoming>) -> Fut,
    Fut: Future<Output = Result<GatewayResponse, ApiError>>,
{
    if let Err(refused) = auth::check(gw, &req) {
        upload::discard(req.into_body()).await;
        return Err(refused);
    }
    serve(gw.clone(), req).await
}

/// Serves one admin request (the caller has matched the prefix).
pub async fn handle(
    gw: &Arc<Gateway>,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    if let Err(refused) = auth::check(gw, &req) {
        // Lingering close: let the client finish sending so it reads the 401 instead of a reset.
        upload::discard(req.into_body()).await;
        return Err(refused);
    }
    let path = req.uri().path();
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    match (req.method(), rest.trim_start_matches('/')) {
        (&Method::GET, "") => Ok(functions::list(gw)),
        (_, "") => Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
        }),
        (method, name) if !name.contains('/') => {
            let name = name.to_owned();
            match *method {
                Method::PUT => deploy::deploy(gw, &name, req).await,
                Method::GET => functions::get(gw, &name),
                Method::DELETE => functions::delete(gw, &name).await,
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
