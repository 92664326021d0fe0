//! Who may do what over HTTP: three audiences and the bearer tokens that admit them.
//!
//! - **admin**: `/functions*`, `/publish/*`, any async call's result. Always authenticated, by the
//!   configured `admin_token` or else the one generated at first start into the data dir; only
//!   `insecure_open_admin` (loopback only, see `wasmgate-config`) switches it off.
//! - **metrics** (operators): `/metrics`, by `metrics_token` or the admin token.
//! - **invoke**: `/fn/*`, manifest routes and `/async/*`, public unless the function's manifest
//!   lists `http.invoke_token_sha256`; the admin token is accepted there too.
//!
//! Every refusal is a 401 `unauthorized`, counted in `wasmgate_auth_failures_total{audience}` and
//! logged at warn with the client's address (rate-limited).

mod bearer;
mod failures;
mod token_file;

pub use bearer::{BearerToken, presented};
pub use failures::AuthFailures;
pub use token_file::{ADMIN_TOKEN_FILE, TokenOrigin, load_or_generate};

use crate::error::ApiError;
use http::Request;
use std::net::SocketAddr;
use wasmgate_config::{Settings, TokenDigest};

/// The address of the client a request came from, put in its extensions by the server.
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr(pub SocketAddr);

/// Which group of endpoints a token check guards (the `audience` label of the failure counter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// The admin API, publishing, any call's result.
    Admin,
    /// `/metrics`.
    Metrics,
    /// A function that asks for a token.
    Invoke,
}

impl Audience {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Audience::Admin => "admin",
            Audience::Metrics => "metrics",
            Audience::Invoke => "invoke",
        }
    }
}

/// What the admin and metrics endpoints accept, and the record of refusals.
pub struct Access {
    /// `None` only with `insecure_open_admin`.
    admin: Option<BearerToken>,
    metrics: Option<BearerToken>,
    origin: Option<TokenOrigin>,
    failures: AuthFailures,
}

impl Access {
    /// The tokens `settings` configure; without an admin token (and without
    /// `insecure_open_admin`), the one in the data dir, generated there on first start.
    pub fn new(settings: &Settings, failures: AuthFailures) -> Result<Self, ApiError> {
        let (admin, origin) = match (&settings.admin_token, settings.insecure_open_admin) {
            (Some(token), _) => (Some(BearerToken::new(token)), Some(TokenOrigin::Configured)),
            (None, true) => (None, None),
            (None, false) => {
                let (token, origin) = load_or_generate(&settings.data_dir)?;
                (Some(BearerToken::new(&token)), Some(origin))
            }
        };
        Ok(Access {
            admin,
            metrics: settings.metrics_token.as_deref().map(BearerToken::new),
            origin,
            failures,
        })
    }

    /// Where the admin token came from; `None` when the admin API is open.
    pub fn origin(&self) -> Option<&TokenOrigin> {
        self.origin.as_ref()
    }

    /// Whether `req` carries the admin token (always true with `insecure_open_admin`). Records
    /// nothing: for paths where admin is one way in among others.
    pub fn is_admin<B>(&self, req: &Request<B>) -> bool {
        match &self.admin {
            None => true,
            Some(token) => presented(req.headers()).is_some_and(|p| token.matches(p)),
        }
    }

    /// Whether `presented` is the admin token (always true with `insecure_open_admin`).
    pub fn is_admin_token(&self, presented: &str) -> bool {
        self.admin
            .as_ref()
            .is_none_or(|token| token.matches(presented))
    }

    /// Refuses `req` unless it carries the admin token.
    pub fn admin<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        if self.is_admin(req) {
            return Ok(());
        }
        Err(self.refuse(
            Audience::Admin,
            req,
            "send `Authorization: Bearer TOKEN` with the admin token (admin_token, or the file admin-token in the data dir)",
        ))
    }

    /// Refuses `req` unless it carries the metrics token or the admin token.
    pub fn metrics<B>(&self, req: &Request<B>) -> Result<(), ApiError> {
        let by_metrics_token = || {
            self.metrics
                .as_ref()
                .zip(presented(req.headers()))
                .is_some_and(|(token, p)| token.matches(p))
        };
        if by_metrics_token() || self.is_admin(req) {
            return Ok(());
        }
        Err(self.refuse(
            Audience::Metrics,
            req,
            "send `Authorization: Bearer TOKEN` with metrics_token or the admin token",
        ))
    }

    /// Refuses `req` unless `tokens` is empty, or it carries one of them or the admin token.
    pub fn invoke<B>(&self, tokens: &[TokenDigest], req: &Request<B>) -> Result<(), ApiError> {
        if tokens.is_empty() {
            return Ok(());
        }
        let listed = presented(req.headers()).is_some_and(|p| {
            let p = bearer::digest(p);
            // Every digest is compared, so timing does not tell which one matched.
            tokens.iter().fold(false, |hit, d| {
                BearerToken::from_digest(*d.bytes()).matches_digest(&p) | hit
            })
        });
        if listed || self.is_admin(req) {
            return Ok(());
        }
        Err(self.refuse(
            Audience::Invoke,
            req,
            "this function needs `Authorization: Bearer TOKEN` with a token its manifest lists",
        ))
    }

    fn refuse<B>(&self, audience: Audience, req: &Request<B>, needs: &'static str) -> ApiError {
        let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
        self.failures.record(audience, client, req.uri().path());
        ApiError::Unauthorized { needs }
    }
}

#[cfg(test)]
mod tests;
