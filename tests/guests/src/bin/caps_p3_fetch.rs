//! Proves the `http-outgoing` grant for WASI 0.3: fetches the URL in `?url=` through
//! `wasi:http/client@0.3.0` (spin-sdk 7) and answers with its status and body, or with 502 and the
//! error the host refused the request with (`error: ...`). Its import of `wasi:http/client` is
//! what admission checks against the claims.

use spin_sdk::http::body::IncomingBodyExt as _;
use spin_sdk::http::{IntoResponse, Request, StatusCode};
use spin_sdk::http_service;

#[http_service]
async fn handle(request: Request) -> impl IntoResponse {
    let query = request.uri().query().unwrap_or("");
    let Some(url) = query.strip_prefix("url=") else {
        return (StatusCode::BAD_REQUEST, "pass ?url=http://...\n".to_owned());
    };
    match spin_sdk::http::get(url).await {
        Ok(upstream) => {
            let status = upstream.status().as_u16();
            match upstream.into_body().bytes().await {
                Ok(body) => (
                    StatusCode::OK,
                    format!("{status} {}", String::from_utf8_lossy(&body)),
                ),
                Err(e) => (StatusCode::BAD_GATEWAY, format!("error: {e:?}")),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("error: {e:?}")),
    }
}

/// Never run: the host enters the component through its `wasi:http/handler` export.
fn main() {}
