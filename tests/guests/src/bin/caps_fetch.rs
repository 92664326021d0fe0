//! Proves the `http-outgoing` grant: fetches the URL in `?url=` and answers with its status and body,
//! or with 502 and the `wasi:http` error code the host refused the request with (`error: ...`).
//! Its import of `wasi:http/outgoing-handler` is what admission checks against the claims.

use wstd::http::body::Body;
use wstd::http::{Client, ErrorCode, Request, Response, StatusCode};

#[wstd::http_server]
async fn main(request: Request<Body>) -> Result<Response<Body>, wstd::http::Error> {
    let query = request.uri().query().unwrap_or("");
    let Some(url) = query.strip_prefix("url=") else {
        let mut response = Response::new("pass ?url=http://...\n".into());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    let upstream = match Client::new()
        .send(Request::get(url).body(Body::empty())?)
        .await
    {
        Ok(upstream) => upstream,
        Err(e) => {
            let code = match e.downcast_ref::<ErrorCode>() {
                Some(code) => format!("{code:?}"),
                None => format!("{e:#}"),
            };
            let mut response = Response::new(format!("error: {code}").into());
            *response.status_mut() = StatusCode::BAD_GATEWAY;
            return Ok(response);
        }
    };
    let status = upstream.status();
    let mut body = upstream.into_body();
    let text = body.str_contents().await?.to_owned();
    Ok(Response::new(format!("{} {text}", status.as_u16()).into()))
}
