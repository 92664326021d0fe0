//! What the client commands share: finding the gateway (flag > `WASMGATE_*` variable > profile),
//! the HTTP client, and the gateway's JSON errors shown as it wrote them, with what to do next.

use super::profile::{self, Profile};
use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use wasmgate::cli::GatewayArgs;

/// How long connecting to the gateway may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The gateway a command talks to.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its URL, without a trailing slash (`http://host:port[/prefix]`).
    pub url: String,
    /// The admin token, if any is known.
    pub token: Option<String>,
}

/// The issuer key `sign` uses without `--key`: the profile's, if it names one.
pub fn profile_key() -> anyhow::Result<Option<PathBuf>> {
    Ok(profile::load(&profile::path()?)?.and_then(|p| p.key))
}

/// Resolves the gateway from the flags (which clap already merged with `WASMGATE_URL` and
/// `WASMGATE_TOKEN`), then the profile; the profile is not read when the flags say everything.
pub fn resolve(args: &GatewayArgs) -> anyhow::Result<Target> {
    let stored = if args.url.is_some() && args.token.is_some() {
        None
    } else {
        let path = profile::path()?;
        profile::load(&path)?
    };
    let stored = stored.unwrap_or_default();
    merge(args, stored)
}

fn merge(args: &GatewayArgs, stored: Profile) -> anyhow::Result<Target> {
    let url = match args.url.clone().or(stored.url) {
        Some(url) => normalize_url(&url)?,
        None => bail!(
            "no gateway URL: run `wasmgate login URL --token TOKEN` once, or pass --url (or set WASMGATE_URL)"
        ),
    };
    Ok(Target {
        url,
        token: args.token.clone().or(stored.token),
    })
}

/// `url` checked (`http://` or `https://`, a host, no query or fragment) and without its
/// trailing slash, so paths can be appended.
pub fn normalize_url(url: &str) -> anyhow::Result<String> {
    let parsed = reqwest::Url::parse(url)
        .with_context(|| format!("{url:?} is not a URL: write it like http://127.0.0.1:8080"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        bail!("{url:?} is not an http:// or https:// URL: write it like http://127.0.0.1:8080");
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        bail!("{url:?} has a query or fragment: give the gateway's base URL only");
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// The HTTP client: connect timeout, no redirects (a token is never sent on to another host).
pub fn http() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("wasmgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("cannot build the HTTP client")
}

/// A runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

impl Target {
    /// `{url}{path}`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// A request to the admin API, with the admin token when one is known.
    pub fn admin(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let request = client.request(method, self.at(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// Sends `request`, turning a failure to reach the gateway into a message that says where it
/// looked.
pub async fn send(
    request: reqwest::RequestBuilder,
    target_url: &str,
) -> anyhow::Result<reqwest::Response> {
    request.send().await.map_err(|e| {
        let mut cause = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            cause = format!("{cause}: {s}");
            source = s.source();
        }
        anyhow::anyhow!(
            "cannot reach the gateway at {target_url}: {cause}\n  is it running, and is the URL right? (--url, WASMGATE_URL or the profile from `wasmgate login`)"
        )
    })
}

/// An error answer, as the gateway wrote it (`{"error": {"code", "message"}}`), with advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    /// The HTTP status.
    pub status: u16,
    /// `error.code`, or the status's reason when the body was not the gateway's JSON error.
    pub code: String,
    /// `error.message`, or the body's text.
    pub message: String,
    /// The whole JSON body, when it was one.
    pub body: Option<Value>,
}

impl GatewayError {
    /// Reads the error out of a non-2xx answer's body.
    pub fn parse(status: u16, body: &[u8]) -> Self {
        let json: Option<Value> = serde_json::from_slice(body).ok();
        let error = json.as_ref().and_then(gateway_error);
        let (code, message) = match error {
            Some((code, message)) => (code, message),
            None => (
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error")
                    .to_lowercase()
                    .replace(' ', "_"),
                String::from_utf8_lossy(body).trim().to_owned(),
            ),
        };
        GatewayError {
            status,
            code,
            message,
            body: json,
        }
    }

    /// What to do about it, when something useful can be said.
    pub fn advice(&self) -> Option<&'static str> {
        Some(match (self.status, self.code.as_str()) {
            (_, "unsigned" | "bad_signature") => {
                "sign the component for this name: `wasmgate deploy` signs with your key, or `wasmgate sign`"
            }
            (_, "untrusted_issuer") => {
                "the gateway does not trust the signing key: start it with --trust PUBKEY (or WASMGATE_TRUSTED_ISSUERS); `wasmgate inspect FILE` shows who signed a component"
            }
            (_, "capability_not_granted") => {
                "grant what its imports need: `wasmgate deploy --cap CAP` (`wasmgate inspect FILE` lists the imports)"
            }
            (_, "name_owned") => {
                "another issuer deployed this name first: deploy under another --name, or sign with the owner's key"
            }
            (_, "health_check_failed") => {
                "the new version failed its [health] check and took no traffic; `wasmgate logs NAME` shows its log lines"
            }
            (401, _) => {
                "run `wasmgate login URL --token TOKEN` to save the admin token, or pass --token (or set WASMGATE_TOKEN); the gateway's token is its admin_token setting, or the file admin-token in its data dir"
            }
            (404, "function_not_found") => "`wasmgate ls` lists the deployed functions",
            (404, _) => "check the URL and path: is this a wasmgate gateway?",
            (429 | 503, _) => "the gateway is busy or draining: try again shortly",
            (500..=599, _) => {
                "the gateway's log has the detail, under the request id in the message"
            }
            _ => return None,
        })
    }

    /// Whether the body was the gateway's JSON error (not some other answer, such as a
    /// function's own error page).
    pub fn is_gateways(&self) -> bool {
        self.body.as_ref().and_then(gateway_error).is_some()
    }

    /// The error as JSON for `--json` output: the gateway's body, or one built like it.
    pub fn to_json(&self) -> Value {
        let mut out = match &self.body {
            Some(body) if gateway_error(body).is_some() => body.clone(),
            _ => json!({ "error": { "code": self.code, "message": self.message } }),
        };
        out["status"] = json!(self.status);
        out
    }
}

/// `(code, message)` of a body shaped like the gateway's errors.
fn gateway_error(body: &Value) -> Option<(String, String)> {
    let error = body.get("error")?;
    Some((
        error.get("code")?.as_str()?.to_owned(),
        error.get("message")?.as_str()?.to_owned(),
    ))
}

impl std::fmt::Display for GatewayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the gateway answered {} {}: {}",
            self.status, self.code, self.message
        )?;
        if let Some(advice) = self.advice() {
            write!(f, "\n  {advice}")?;
        }
        Ok(())
    }
}

impl std::error::Error for GatewayError {}

/// The answer's body when it is 2xx, else its [`GatewayError`] (also printed on stdout as JSON
/// with `json`, for scripts).
pub async fn success(response: reqwest::Response, json: bool) -> anyhow::Result<bytes::Bytes> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .context("the gateway's answer broke off")?;
    if status.is_success() {
        return Ok(body);
    }
    let error = GatewayError::parse(status.as_u16(), &body);
    if json {
        println!("{}", error.to_json());
    }
    Err(error.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_and_lose_their_trailing_slash() {
        assert_eq!(
            normalize_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_url("https://gw.example.com/wasmgate/").unwrap(),
            "https://gw.example.com/wasmgate"
        );
        for bad in ["127.0.0.1:8080", "ftp://h/", "http://h/?x=1", "not a url"] {
            assert!(normalize_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_beat_the_profile_and_the_profile_fills_the_rest() {
        let stored = Profile {
            url: Some("http://stored:1".into()),
            token: Some("stored-token".into()),
            key: Some("/stored.pem".into()),
        };
        let flags = GatewayArgs {
            url: Some("http://flag:2/".into()),
            token: None,
            key: None,
        };
        let target = merge(&flags, stored.clone()).unwrap();
        assert_eq!(target.url, "http://flag:2");
        assert_eq!(target.token.as_deref(), Some("stored-token"));
        let target = merge(&GatewayArgs::default(), stored).unwrap();
        assert_eq!(target.url, "http://stored:1");
        let e = merge(&GatewayArgs::default(), Profile::default()).unwrap_err();
        assert!(e.to_string().contains("wasmgate login"), "{e}");
    }

    #[test]
    fn gateway_errors_keep_its_code_and_message_and_add_advice() {
        let body = br#"{"error":{"code":"unauthorized","message":"send a token"}}"#;
        let error = GatewayError::parse(401, body);
        assert_eq!(
            (error.code.as_str(), error.message.as_str()),
            ("unauthorized", "send a token")
        );
        let text = error.to_string();
        assert!(text.starts_with("the gateway answered 401 unauthorized: send a token\n"));
        assert!(text.contains("wasmgate login"), "{text}");
        assert_eq!(error.to_json()["error"]["code"], "unauthorized");
        assert_eq!(error.to_json()["status"], 401);

        let other = GatewayError::parse(502, b"bad gateway from a proxy");
        assert_eq!(other.code, "bad_gateway");
        assert_eq!(other.message, "bad gateway from a proxy");
        assert_eq!(other.to_json()["error"]["code"], "bad_gateway");
    }
}
