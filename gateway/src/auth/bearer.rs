//! Bearer tokens (RFC 6750): reading the one a request presents and comparing it to a known one.

use http::{HeaderMap, header};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A token the gateway accepts, kept only as its SHA-256.
///
/// Comparing digests rather than the tokens makes the comparison's time independent of the
/// presented token's length and contents (both sides are 32 bytes, compared with `subtle`), and
/// keeps the token itself out of memory dumps after start.
#[derive(Clone)]
pub struct BearerToken {
    digest: [u8; 32],
}

impl BearerToken {
    /// The token `secret` (as configured or generated).
    pub fn new(secret: &str) -> Self {
        BearerToken {
            digest: Sha256::digest(secret.as_bytes()).into(),
        }
    }

    /// A token known only by its SHA-256 (as a manifest lists them).
    pub fn from_digest(digest: [u8; 32]) -> Self {
        BearerToken { digest }
    }

    /// Whether `presented` is this token; constant time in everything but `presented`'s length,
    /// which hashing hides from the comparison.
    pub fn matches(&self, presented: &str) -> bool {
        self.matches_digest(&digest(presented))
    }

    /// Whether a presented token whose `digest` is `presented` is this token (constant time).
    pub fn matches_digest(&self, presented: &[u8; 32]) -> bool {
        presented.ct_eq(&self.digest).into()
    }
}

/// The SHA-256 of a presented token, to compare against several known ones with one hash.
pub fn digest(presented: &str) -> [u8; 32] {
    Sha256::digest(presented.as_bytes()).into()
}

impl BearerToken {}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// The token in `Authorization: Bearer TOKEN`, if the header holds one. The scheme name is
/// matched without regard to case (RFC 9110 §11.1); anything else counts as no token.
pub fn presented(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn only_the_exact_token_matches() {
        let token = BearerToken::new("s3cret-s3cret-s3cret-s3cret-s3cret");
        assert!(token.matches("s3cret-s3cret-s3cret-s3cret-s3cret"));
        assert!(!token.matches("s3cret-s3cret-s3cret-s3cret-s3cre"));
        assert!(!token.matches("s3cret-s3cret-s3cret-s3cret-s3cret2"));
        assert!(!token.matches(""));
        assert_eq!(format!("{token:?}"), "BearerToken(<redacted>)");
        let by_digest = BearerToken::from_digest(Sha256::digest(b"abc").into());
        assert!(by_digest.matches("abc") && !by_digest.matches("abd"));
    }

    #[test]
    fn the_bearer_scheme_is_read_in_any_case_and_nothing_else_counts() {
        let read = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            presented(&headers).map(str::to_owned)
        };
        assert_eq!(read("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(read("bearer abc").as_deref(), Some("abc"));
        assert_eq!(read("BEARER  abc ").as_deref(), Some("abc"));
        assert_eq!(read("Basic YWJjOmRlZg=="), None);
        assert_eq!(read("Bearer"), None);
        assert_eq!(read("Bearer  "), None);
        assert_eq!(presented(&HeaderMap::new()), None);
    }
}
