//! The request head against `http.max_header_size` and `http.max_headers`, answered with the
//! gateway's JSON error.
//!
//! hyper enforces the same limits at twice the configured size ([`HYPER_BACKSTOP`]), because it
//! answers a head it refuses itself, with an empty body. Heads between the limit and the
//! backstop, which is every near miss, get `431` with a JSON body naming the limit instead.

use crate::error::ApiError;
use http::Request;
use wasmgate_config::HttpSettings;

/// How many times the configured limits hyper's own parser allows, so that only heads far past
/// the limit meet hyper's bare `431`.
pub const HYPER_BACKSTOP: u64 = 2;

/// Refuses a request whose head is over the configured size or holds too many fields.
pub fn check<B>(req: &Request<B>, limits: &HttpSettings) -> Result<(), ApiError> {
    let count = req.headers().len();
    if u64::try_from(count).unwrap_or(u64::MAX) > u64::from(limits.max_headers) {
        return Err(ApiError::TooManyHeaders {
            count,
            limit: limits.max_headers,
        });
    }
    let size = wire_size(req);
    let limit = limits.max_header_size.bytes();
    if size > limit {
        return Err(ApiError::HeaderTooLarge { size, limit });
    }
    Ok(())
}

/// The size of the request line and header fields as HTTP/1.1 puts them on the wire, with
/// single spaces and CRLFs: what hyper's read buffer held, give or take optional whitespace.
fn wire_size<B>(req: &Request<B>) -> u64 {
    // "METHOD SP target SP HTTP/1.1 CRLF", each "name: value CRLF", then the closing CRLF.
    let target = req.uri().path_and_query().map_or(1, |p| p.as_str().len())
        + req.uri().authority().map_or(0, |a| a.as_str().len());
    let line = req.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len() + 2;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    u64::try_from(line + fields + 2).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmgate_config::ByteSize;

    fn limits(size: u64, headers: u32) -> HttpSettings {
        HttpSettings {
            max_header_size: ByteSize::from_bytes(size),
            max_headers: headers,
            ..HttpSettings::default()
        }
    }

    fn request(path: &str, headers: &[(&str, &str)]) -> Request<()> {
        let mut builder = Request::get(path);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn the_size_counts_the_request_line_and_every_field_as_sent() {
        // "GET /a?b HTTP/1.1\r\n" (19) + "host: x\r\n" (9) + "\r\n" (2)
        assert_eq!(wire_size(&request("/a?b", &[("host", "x")])), 30);
    }

    #[test]
    fn a_head_at_the_limit_passes_and_one_byte_more_is_refused() {
        let req = request("/a?b", &[("host", "x")]);
        assert!(check(&req, &limits(30, 10)).is_ok());
        let refused = check(&req, &limits(29, 10)).unwrap_err();
        assert!(
            matches!(
                refused,
                ApiError::HeaderTooLarge {
                    size: 30,
                    limit: 29
                }
            ),
            "{refused:?}"
        );
        assert_eq!(refused.classify().0, 431);
        assert_eq!(refused.classify().1, "header_too_large");
    }

    #[test]
    fn more_fields_than_the_limit_are_refused_with_their_count() {
        let req = request("/", &[("a", "1"), ("a", "2"), ("b", "3")]);
        assert!(check(&req, &limits(1024, 3)).is_ok());
        let refused = check(&req, &limits(1024, 2)).unwrap_err();
        assert!(
            matches!(refused, ApiError::TooManyHeaders { count: 3, limit: 2 }),
            "{refused:?}"
        );
        assert_eq!(refused.classify().0, 431);
        assert_eq!(refused.classify().1, "too_many_headers");
    }
}
