//! `POST /publish/{subject}`: put the request body on the message bus.
//!
//! The request is read by the CloudEvents HTTP binding ([`http_binding::read`]): structured mode
//! (`application/cloudevents+json` or `+protobuf`, compared as media types) and binary mode
//! (`ce-*` headers, unquoted and percent-decoded) become an event, checked and carried as its
//! canonical message; any other request is a plain message with its content type. An invalid
//! event is refused with 400 `invalid_event` naming the attribute, and nothing is published.

use crate::client_body;
use crate::error::ApiError;
use crate::incoming::Incoming;
use crate::response::{GatewayResponse, json};
use crate::state::Gateway;
use http::{Request, StatusCode, header};
use serde_json::json;
use wasmgate_capabilities::messaging::Message;
use wasmgate_capabilities::messaging::cloudevent::{self, http_binding};
use wasmgate_capabilities::messaging::subject::is_reserved;

/// Path prefix of the publish endpoint.
pub const PREFIX: &str = "/publish/";

/// Publishes the body on the subject after the prefix; 202 once the bus has accepted it. A
/// subject the host keeps for itself (`wasmgate.>`, `_INBOX.>`) is refused with 403
/// `reserved_subject`, so no client can forge a dead letter or a reply. When a subscriber's
/// backlog is at its quota the answer is 503 `backlog_full` with `Retry-After`, and nothing is
/// accepted.
pub async fn publish(gw: &Gateway, req: Request<Incoming>) -> Result<GatewayResponse, ApiError> {
    if req.method() != http::Method::POST {
        return Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
        });
    }
    // The prefix once: `/publish//publish/x` is subject `/publish/x`, not another spelling of `x`.
    let path = req.uri().path();
    let subject = path.strip_prefix(PREFIX).unwrap_or(path).to_owned();
    if is_reserved(&subject) {
        client_body::discard(req).await;
        return Err(ApiError::ReservedSubject { subject });
    }
    let (parts, body) = req.into_parts();
    let limits = gw.body_limits(gw.settings.max_module_size.bytes(), "max_module_size");
    let body = client_body::read(&parts, body, limits).await?;
    let message = match http_binding::read(&parts.headers, &body) {
        Ok(http_binding::Content::Event(event)) => {
            cloudevent::to_message(subject.clone(), None, &event, [])
        }
        Ok(http_binding::Content::Unsupported(media_type)) => {
            return Err(ApiError::EventFormat { media_type });
        }
        Ok(http_binding::Content::Plain) => {
            let mut message = Message::new(subject.clone(), body);
            message.content_type = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            message
        }
        Err(invalid) => return Err(wasmgate_capabilities::messaging::Error::from(invalid).into()),
    };
    gw.bus
        .publish(message)
        .await
        .inspect_err(|e| gw.metrics.bus_refused(e))?;
    gw.metrics.messages.with_label_values(&["published"]).inc();
    Ok(json(StatusCode::ACCEPTED, &json!({ "subject": subject })))
}
