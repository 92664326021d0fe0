//! The parts of a gateway's admin API a load test uses: deploy a function, read its state.

use crate::error::{Error, Result};
use reqwest::multipart::{Form, Part};
use serde::Deserialize;

/// The admin API of one gateway.
#[derive(Clone, Debug)]
pub struct Admin {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Whether a function has code loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FunctionState {
    /// Nothing in memory: the next request is a cold start.
    Cold,
    /// Loaded.
    Warm,
}

#[derive(Deserialize)]
struct FunctionInfo {
    state: Option<String>,
}

impl Admin {
    /// The admin API at `base` (`http://HOST:PORT`), sending `token` as a bearer token if given.
    pub fn new(base: &str, token: Option<String>) -> Admin {
        Admin {
            http: reqwest::Client::new(),
            base: base.trim_end_matches('/').to_owned(),
            token,
        }
    }

    /// Where this admin API lives.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.request(method, &url);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        (url, request)
    }

    /// `PUT /functions/{name}`: the signed component, with a TOML manifest if given (then as
    /// multipart `module` + `manifest`, else as `application/wasm`).
    pub async fn deploy(&self, name: &str, signed: Vec<u8>, manifest: Option<&str>) -> Result<()> {
        let (url, request) = self.request(reqwest::Method::PUT, &format!("/functions/{name}"));
        let request = match manifest {
            Some(manifest) => {
                let module = Part::bytes(signed)
                    .file_name("module.wasm")
                    .mime_str("application/wasm")
                    .map_err(|source| Error::Admin {
                        url: url.clone(),
                        source,
                    })?;
                let form = Form::new()
                    .part("module", module)
                    .text("manifest", manifest.to_owned());
                request.multipart(form)
            }
            None => request
                .header(http::header::CONTENT_TYPE, "application/wasm")
                .body(signed),
        };
        let response = request.send().await.map_err(|source| Error::Admin {
            url: url.clone(),
            source,
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(Error::DeployRefused {
            name: name.to_owned(),
            status: status.as_u16(),
            body: response.text().await.unwrap_or_default(),
        })
    }

    /// `GET /functions/{name}`: the function's state, or `None` when the server does not say
    /// (not a wasmgate, or no such function).
    pub async fn state(&self, name: &str) -> Result<Option<FunctionState>> {
        let (url, request) = self.request(reqwest::Method::GET, &format!("/functions/{name}"));
        let response = request
            .send()
            .await
            .map_err(|source| Error::Admin { url, source })?;
        if !response.status().is_success() {
            return Ok(None);
        }
        let info: Option<FunctionInfo> = response.json().await.ok();
        Ok(match info.and_then(|i| i.state).as_deref() {
            Some("cold") => Some(FunctionState::Cold),
            Some("warm") => Some(FunctionState::Warm),
            _ => None,
        })
    }
}
