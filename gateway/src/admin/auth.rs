//! Admin authentication: a bearer token compared in constant time.

use crate::error::ApiError;
use crate::state::Gateway;
use http::{Request, header};
use subtle::ConstantTimeEq;

/// The configured admin token; when set, the admin API and publishing require it.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// The token from settings, if one is configured (an empty string counts as none).
    pub fn from_settings(token: Option<&str>) -> Option<Self> {
        token
            .filter(|t| !t.is_empty())
            .map(|t| AdminToken(t.to_owned()))
    }

    /// Whether `presented` is the token, without leaking how much of it matched through timing.
    pub fn matches(&self, presented: &str) -> bool {
        self.0.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Refuses the request unless it carries the admin token (when one is configured).
pub fn check<B>(gw: &Gateway, req: &Request<B>) -> Result<(), ApiError> {
    let Some(token) = &gw.admin_token else {
        return Ok(());
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if token.matches(presented) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_matches() {
        let token = AdminToken::from_settings(Some("s3cret")).unwrap();
        assert!(token.matches("s3cret"));
        assert!(!token.matches("s3cre"));
        assert!(!token.matches("s3cret2"));
        assert!(!token.matches(""));
        assert!(AdminToken::from_settings(Some("")).is_none());
        assert_eq!(format!("{token:?}"), "AdminToken(<redacted>)");
    }
}
