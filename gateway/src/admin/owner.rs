//! `GET` and `PUT /functions/{name}/owner`: which issuer owns a function name, and an admin's
//! transfer of it to another trusted issuer.
//!
//! The owner is the only issuer whose components may deploy the name (see the deploy pipeline).
//! A transfer changes who may deploy next; the version serving now keeps running, and keeps the
//! key-value data of the issuer that signed it. The new owner's first deploy starts from its own,
//! empty data.

use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use http::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;
use wasmgate_claims::IssuerKey;
use wasmgate_config::FunctionName;

/// Largest transfer body: one issuer key in a small JSON object.
const MAX_BODY: u64 = 4 << 10;

/// The body of a transfer.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Transfer {
    /// The new owner's public key.
    issuer: String,
}

/// The owner of `name`, or `null` when no issuer owns it.
pub fn get(gw: &Gateway, name: &str) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    let owner = gw.registry.owner(name.as_str())?;
    Ok(json(
        StatusCode::OK,
        &json!({ "name": name.as_str(), "owner": owner }),
    ))
}

/// Makes the issuer in the body (`{"issuer": "KEY"}`, a trusted key) the owner of `name`, whether
/// or not the name is deployed now (reserving a name for a team works the same way).
pub async fn transfer(
    gw: &Gateway,
    name: &str,
    req: Request<Incoming>,
) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned());
    let (parts, body) = req.into_parts();
    let body = crate::client_body::read(
        &parts,
        body,
        gw.body_limits(MAX_BODY, "the fixed limit of an owner transfer"),
    )
    .await?;
    let name = name?;
    let transfer: Transfer = serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest {
        reason: format!(
            "the body must be {{\"issuer\": \"PUBLIC_KEY\"}} naming the new owner: {e}"
        ),
    })?;
    let issuer = transfer.issuer.parse::<IssuerKey>()?.to_string();
    gw.admission.check_trusted(&issuer)?;
    // Under the change lock, so no deploy is between its owner check and its write.
    let change = gw.catalog.lock().await;
    let previous = gw.registry.owner(name.as_str())?;
    // In cluster mode shared first: a transfer the cluster did not take changes nothing here.
    if let Some(node) = &gw.cluster {
        node.cluster
            .put_owner(name.as_str(), &issuer)
            .await
            .map_err(crate::cluster::sync::api_error)?;
    }
    gw.registry.set_owner(name.as_str(), &issuer)?;
    drop(change);
    tracing::info!(function = %name, owner = %issuer, previous = ?previous, "name transferred");
    Ok(json(
        StatusCode::OK,
        &json!({ "name": name.as_str(), "owner": issuer, "previous_owner": previous }),
    ))
}
