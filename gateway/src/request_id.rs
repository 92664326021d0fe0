//! Request ids: `X-Request-Id` kept when a client sends a sane one, generated otherwise, echoed in
//! the response, attached to the request's log span and to the guest's log lines.

use http::{HeaderName, HeaderValue, Request};
use std::sync::Arc;

/// The header carrying the id.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-sent id kept; longer ones are replaced, so logs stay readable.
const MAX_LEN: usize = 128;

/// The id of `req`: the client's if it is short printable ASCII, else a new UUID.
pub fn of<B>(req: &Request<B>) -> Arc<str> {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= MAX_LEN && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(Arc::from)
        .unwrap_or_else(|| Arc::from(uuid::Uuid::new_v4().simple().to_string()))
}

/// The id as a header value (ids are printable ASCII by construction).
pub fn header_value(id: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(id).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> Request<()> {
        Request::builder()
            .header("x-request-id", value)
            .body(())
            .unwrap()
    }

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        assert_eq!(&*of(&with("abc-123")), "abc-123");
        for bad in ["", "has space", &"x".repeat(MAX_LEN + 1)] {
            let id = of(&with(bad));
            assert_eq!(id.len(), 32, "{bad:?} gave {id}");
        }
        let generated = of(&Request::new(()));
        assert_eq!(generated.len(), 32);
        assert_ne!(generated, of(&Request::new(())));
    }
}
