//! One repository of a registry over the OCI Distribution Specification v1.1
//! (<https://github.com/opencontainers/distribution-spec/blob/v1.1.0/spec.md>): manifests and
//! blobs pulled, blobs pushed monolithically (POST then PUT) and manifests put.
//!
//! A `401` is answered once per request: with Basic credentials, or with a token from the
//! registry's token service (`WWW-Authenticate: Bearer realm=...,service=...,scope=...`, the
//! Docker registry token flow, <https://distribution.github.io/distribution/spec/auth/token/>),
//! which is then kept for the repository's later requests.
//!
//! Every URL the client is sent to (the registry's, the token realm, a blob redirect) first
//! passes the caller's [`UrlCheck`]; the gateway's checks it against the egress guard, whose
//! resolver the HTTP client also uses. Redirects are followed here, at most
//! [`MAX_REDIRECTS`], and the registry's credentials are never sent to another host.

use super::OciError;
use super::artifact::sha256;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url, header};
use std::sync::Mutex;

/// Redirects followed for one request (registries send blob reads to object storage: one hop).
pub const MAX_REDIRECTS: usize = 5;

/// Longest manifest read (the distribution spec lets registries refuse manifests over 4 MiB).
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// Longest answer of a token service or error body read.
const MAX_SMALL_BODY: u64 = 64 << 10;

/// Decides whether a URL may be fetched; `Err` is the refusal returned as is.
pub type UrlCheck = Box<dyn Fn(&Url) -> Result<(), OciError> + Send + Sync>;

/// A user name and its password or token, for Basic auth and the token service.
#[derive(Clone)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// One repository of one registry.
pub struct Repository {
    http: reqwest::Client,
    /// `https://HOST` or `http://HOST`.
    base: Url,
    /// The host as written in the reference (for messages and matching redirects).
    host: String,
    /// The repository name.
    name: String,
    credentials: Option<Credentials>,
    /// `pull` or `pull,push`: what a token is asked for.
    actions: &'static str,
    check: UrlCheck,
    /// The `Authorization` value that answered the last challenge.
    authorization: Mutex<Option<String>>,
}

impl Repository {
    /// A client for `name` on `host` over `http`.
    ///
    /// `plain_http` speaks `http://` instead of `https://`; `push` asks tokens for push access
    /// too. Docker Hub's API host is `registry-1.docker.io`, which `docker.io` maps to.
    ///
    /// # Errors
    /// [`OciError::BadReference`] if `host` does not make a URL.
    pub fn new(
        http: reqwest::Client,
        host: &str,
        name: &str,
        plain_http: bool,
        push: bool,
        credentials: Option<Credentials>,
        check: UrlCheck,
    ) -> Result<Repository, OciError> {
        let scheme = if plain_http { "http" } else { "https" };
        let api_host = if host == "docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        let base =
            Url::parse(&format!("{scheme}://{api_host}/")).map_err(|e| OciError::BadReference {
                reference: host.to_owned(),
                reason: format!("the registry host does not make a URL: {e}"),
            })?;
        Ok(Repository {
            http,
            base,
            host: host.to_owned(),
            name: name.to_owned(),
            credentials,
            actions: if push { "pull,push" } else { "pull" },
            check,
            authorization: Mutex::new(None),
        })
    }

    /// The registry host, as written.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Fetches the manifest `reference` (tag or digest): its bytes, at most
    /// [`MAX_MANIFEST_BYTES`]. A digest reference is verified against the bytes.
    ///
    /// # Errors
    /// [`OciError::NotFound`] for an unknown manifest, and the errors of every request.
    pub async fn manifest(&self, reference: &str, shown_as: &str) -> Result<Bytes, OciError> {
        let url = self.url(&format!("v2/{}/manifests/{reference}", self.name))?;
        let what = format!("GET manifest {reference}");
        let response = self
            .send(&what, Method::GET, url, |r| {
                r.header(
                    header::ACCEPT,
                    format!(
                        "{}, application/vnd.oci.image.index.v1+json",
                        super::artifact::MANIFEST_MEDIA_TYPE
                    ),
                )
            })
            .await?;
        let response = self
            .expect(response, &what, StatusCode::OK, shown_as)
            .await?;
        let bytes = self.read(response, MAX_MANIFEST_BYTES, &what).await?;
        if reference.starts_with("sha256:") {
            self.verify(reference, &bytes)?;
        }
        Ok(bytes)
    }

    /// Fetches the blob `digest` of `size` bytes (as its descriptor says), following redirects,
    /// and verifies that it hashes to `digest`.
    ///
    /// # Errors
    /// [`OciError::Corrupt`] if the bytes do not match, and the errors of every request.
    pub async fn blob(&self, digest: &str, size: u64, shown_as: &str) -> Result<Bytes, OciError> {
        let url = self.url(&format!("v2/{}/blobs/{digest}", self.name))?;
        let what = format!("GET blob {digest}");
        let response = self.send(&what, Method::GET, url, |r| r).await?;
        let response = self
            .expect(response, &what, StatusCode::OK, shown_as)
            .await?;
        let bytes = self.read(response, size, &what).await?;
        self.verify(digest, &bytes)?;
        Ok(bytes)
    }

    /// Whether the registry already holds the blob `digest`.
    ///
    /// # Errors
    /// The errors of every request; any answer but 200 and 404 is an error.
    pub async fn has_blob(&self, digest: &str) -> Result<bool, OciError> {
        let url = self.url(&format!("v2/{}/blobs/{digest}", self.name))?;
        let what = format!("HEAD blob {digest}");
        let response = self.send(&what, Method::HEAD, url, |r| r).await?;
        match response.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.unexpected(response, &what).await),
        }
    }

    /// Uploads `bytes` as the blob `digest` in one request (the spec's monolithic upload: a
    /// `POST` opens the session, one `PUT ?digest=` completes it).
    ///
    /// # Errors
    /// The errors of every request.
    pub async fn push_blob(&self, digest: &str, bytes: Bytes) -> Result<(), OciError> {
        let what = format!("POST blob upload for {digest}");
        let url = self.url(&format!("v2/{}/blobs/uploads/", self.name))?;
        let response = self
            .send(&what, Method::POST, url, |r| {
                r.header(header::CONTENT_LENGTH, 0)
            })
            .await?;
        let response = self
            .expect(response, &what, StatusCode::ACCEPTED, &self.name)
            .await?;
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .ok_or_else(|| self.malformed(&what, "no Location header"))?;
        let mut upload = self
            .base
            .join(location)
            .map_err(|e| self.malformed(&what, &format!("Location does not parse: {e}")))?;
        upload.query_pairs_mut().append_pair("digest", digest);
        let what = format!("PUT blob {digest}");
        let response = self
            .send(&what, Method::PUT, upload, |r| {
                r.header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(bytes.clone())
            })
            .await?;
        self.expect(response, &what, StatusCode::CREATED, &self.name)
            .await?;
        Ok(())
    }

    /// Puts `manifest` (an OCI image manifest) under `tag`; the digest the registry names it by.
    ///
    /// # Errors
    /// The errors of every request.
    pub async fn put_manifest(&self, tag: &str, manifest: Bytes) -> Result<String, OciError> {
        let what = format!("PUT manifest {tag}");
        let url = self.url(&format!("v2/{}/manifests/{tag}", self.name))?;
        let response = self
            .send(&what, Method::PUT, url, |r| {
                r.header(header::CONTENT_TYPE, super::artifact::MANIFEST_MEDIA_TYPE)
                    .body(manifest.clone())
            })
            .await?;
        let response = self
            .expect(response, &what, StatusCode::CREATED, &self.name)
            .await?;
        Ok(response
            .headers()
            .get("docker-content-digest")
            .and_then(|d| d.to_str().ok())
            .map_or_else(|| sha256(&manifest), str::to_owned))
    }

    fn url(&self, path: &str) -> Result<Url, OciError> {
        self.base.join(path).map_err(|e| OciError::BadReference {
            reference: format!("{}/{}", self.host, self.name),
            reason: e.to_string(),
        })
    }

    /// Sends one request, answering a `401` once and following redirects.
    async fn send(
        &self,
        what: &str,
        method: Method,
        url: Url,
        extra: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, OciError> {
        let mut response = self
            .send_following(what, &method, url.clone(), &extra)
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            let authorization = self.answer(&challenge, what).await?;
            if let Ok(mut slot) = self.authorization.lock() {
                *slot = Some(authorization);
            }
            response = self.send_following(what, &method, url, &extra).await?;
        }
        if matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            return Err(OciError::Denied {
                registry: self.host.clone(),
                repository: self.name.clone(),
                status: response.status().as_u16(),
            });
        }
        Ok(response)
    }

    /// Sends `method url`, following up to [`MAX_REDIRECTS`] redirects, each URL checked; the
    /// `Authorization` header goes only to the registry itself.
    async fn send_following(
        &self,
        what: &str,
        method: &Method,
        mut url: Url,
        extra: &impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response, OciError> {
        for _ in 0..=MAX_REDIRECTS {
            (self.check)(&url)?;
            let mut request = extra(self.http.request(method.clone(), url.clone()));
            if url.origin() == self.base.origin()
                && let Some(authorization) = self.authorization.lock().ok().and_then(|a| a.clone())
            {
                request = request.header(header::AUTHORIZATION, authorization);
            }
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .ok_or_else(|| self.malformed(what, "a redirect without a Location header"))?;
            url = url.join(location).map_err(|e| {
                self.malformed(what, &format!("a redirect that does not parse: {e}"))
            })?;
        }
        Err(self.malformed(what, &format!("more than {MAX_REDIRECTS} redirects")))
    }

    /// The `Authorization` value answering `challenge`.
    async fn answer(&self, challenge: &str, what: &str) -> Result<String, OciError> {
        let denied = || OciError::Denied {
            registry: self.host.clone(),
            repository: self.name.clone(),
            status: 401,
        };
        let challenges = http_auth::parse_challenges(challenge).map_err(|e| {
            self.malformed(
                what,
                &format!("a WWW-Authenticate that does not parse: {e}"),
            )
        })?;
        let param = |c: &http_auth::ChallengeRef<'_>, key: &str| {
            c.params
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.to_unescaped())
        };
        if let Some(bearer) = challenges
            .iter()
            .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        {
            let realm = param(bearer, "realm")
                .ok_or_else(|| self.malformed(what, "a Bearer challenge without a realm"))?;
            let mut url = Url::parse(&realm).map_err(|e| {
                self.malformed(what, &format!("a token realm that does not parse: {e}"))
            })?;
            {
                let mut query = url.query_pairs_mut();
                if let Some(service) = param(bearer, "service") {
                    query.append_pair("service", &service);
                }
                let scope = param(bearer, "scope")
                    .unwrap_or_else(|| format!("repository:{}:{}", self.name, self.actions));
                query.append_pair("scope", &scope);
            }
            (self.check)(&url)?;
            let mut request = self.http.get(url);
            if let Some(c) = &self.credentials {
                request = request.basic_auth(&c.username, Some(&c.password));
            }
            let response = request.send().await.map_err(|e| self.unreachable(e))?;
            if !response.status().is_success() {
                return Err(denied());
            }
            let body = self.read(response, MAX_SMALL_BODY, "GET token").await?;
            let token: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| self.malformed("GET token", &format!("not JSON: {e}")))?;
            let token = token["token"]
                .as_str()
                .or(token["access_token"].as_str())
                .ok_or_else(|| self.malformed("GET token", "no token in the answer"))?;
            return Ok(format!("Bearer {token}"));
        }
        if challenges
            .iter()
            .any(|c| c.scheme.eq_ignore_ascii_case("basic"))
            && let Some(c) = &self.credentials
        {
            use base64::Engine as _;
            let pair = format!("{}:{}", c.username, c.password);
            return Ok(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            ));
        }
        Err(denied())
    }

    /// `response` if it has `status`; a 404 is [`OciError::NotFound`] naming `shown_as`.
    async fn expect(
        &self,
        response: Response,
        what: &str,
        status: StatusCode,
        shown_as: &str,
    ) -> Result<Response, OciError> {
        if response.status() == status {
            return Ok(response);
        }
        if response.status() == StatusCode::NOT_FOUND && what.starts_with("GET") {
            return Err(OciError::NotFound {
                what: format!("{shown_as} ({what})"),
                reference: shown_as.to_owned(),
            });
        }
        Err(self.unexpected(response, what).await)
    }

    /// Reads a body of at most `limit` bytes.
    async fn read(&self, response: Response, limit: u64, what: &str) -> Result<Bytes, OciError> {
        if response.content_length().is_some_and(|n| n > limit) {
            return Err(self.malformed(what, &format!("an answer over {limit} bytes")));
        }
        let mut body = BytesMut::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| self.unreachable(e))?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(self.malformed(what, &format!("an answer over {limit} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    fn verify(&self, digest: &str, bytes: &[u8]) -> Result<(), OciError> {
        let actual = sha256(bytes);
        if actual == digest {
            Ok(())
        } else {
            Err(OciError::Corrupt {
                registry: self.host.clone(),
                digest: digest.to_owned(),
                actual,
            })
        }
    }

    async fn unexpected(&self, response: Response, what: &str) -> OciError {
        let status = response.status().as_u16();
        let body = self
            .read(response, MAX_SMALL_BODY, what)
            .await
            .unwrap_or_default();
        let detail = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        OciError::Registry {
            registry: self.host.clone(),
            what: what.to_owned(),
            status,
            detail,
        }
    }

    fn malformed(&self, what: &str, detail: &str) -> OciError {
        OciError::Registry {
            registry: self.host.clone(),
            what: what.to_owned(),
            status: 0,
            detail: detail.to_owned(),
        }
    }

    fn unreachable(&self, e: reqwest::Error) -> OciError {
        if let Some(refusal) = crate::egress_client::refusal_of(&e) {
            return OciError::EgressRefused {
                registry: self.host.clone(),
                reason: refusal.to_string(),
            };
        }
        let mut reason = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(err) = source {
            reason.push_str(": ");
            reason.push_str(&err.to_string());
            source = err.source();
        }
        OciError::Unreachable {
            registry: self.host.clone(),
            reason,
        }
    }
}
