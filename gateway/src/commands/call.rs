//! `wasmgate call NAME [PATH] [-d BODY|@FILE] [-X METHOD] [-H 'K: V']...`: invokes a function
//! through `/fn/NAME` and prints the response body.
//!
//! The admin token is never sent: the guest sees the request's headers, and a function has no
//! business holding the admin token. A function that needs an invoke token gets it with
//! `-H 'authorization: Bearer TOKEN'`.

use super::client::{self, GatewayError};
use anyhow::{Context, bail};
use serde_json::{Map, Value, json};
use std::io::{Read, Write};
use wasmgate::cli::CallArgs;
use wasmgate_config::FunctionName;

/// Sends the request; the body goes to stdout, and a non-2xx answer is an error (the gateway's
/// JSON error on stderr, or the function's own body on stdout and its status on stderr).
pub fn call(args: &CallArgs) -> anyhow::Result<()> {
    let target = client::resolve(&args.gateway)?;
    let name = FunctionName::try_from(args.name.clone())?;
    let path = match args.path.as_deref() {
        None | Some("") => String::new(),
        Some(p) if p.starts_with('/') || p.starts_with('?') => p.to_owned(),
        Some(p) => format!("/{p}"),
    };
    let body = args.data.as_deref().map(read_data).transpose()?;
    let method = match (&args.method, &body) {
        (Some(m), _) => reqwest::Method::from_bytes(m.as_bytes())
            .with_context(|| format!("-X {m:?} is not an HTTP method"))?,
        (None, Some(_)) => reqwest::Method::POST,
        (None, None) => reqwest::Method::GET,
    };
    let mut headers = reqwest::header::HeaderMap::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("-H {h:?} is not `Name: value`"))?;
        let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("-H {h:?}: {:?} is not a header name", name.trim()))?;
        let value = reqwest::header::HeaderValue::from_str(value.trim())
            .with_context(|| format!("-H {h:?}: the value is not a valid header value"))?;
        headers.append(name, value);
    }
    let url = target.at(&format!("/fn/{}{path}", name.as_str()));
    client::runtime()?.block_on(async {
        let http = client::http()?;
        let mut request = http.request(method, url).headers(headers);
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = client::send(request, &target.url).await?;
        let status = response.status();
        let response_headers = response.headers().clone();
        let body = response.bytes().await.context("the response broke off")?;
        let mut stdout = std::io::stdout().lock();
        if args.json {
            let headers: Map<String, Value> = response_headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        json!(String::from_utf8_lossy(v.as_bytes())),
                    )
                })
                .collect();
            let out = json!({
                "status": status.as_u16(),
                "headers": headers,
                "body": String::from_utf8_lossy(&body),
            });
            writeln!(stdout, "{out}")?;
        }
        if status.is_success() {
            if !args.json {
                stdout.write_all(&body)?;
            }
            stdout.flush()?;
            return Ok(());
        }
        let error = GatewayError::parse(status.as_u16(), &body);
        if error.is_gateways() {
            stdout.flush()?;
            return Err(error.into());
        }
        // The function's own error answer: its body is the output, the status the failure.
        if !args.json {
            stdout.write_all(&body)?;
        }
        stdout.flush()?;
        bail!("{} answered {status}", name.as_str())
    })
}

/// The body `-d` names: `@-` standard input, `@FILE` a file's bytes, else the text itself.
fn read_data(data: &str) -> anyhow::Result<Vec<u8>> {
    match data.strip_prefix('@') {
        Some("-") => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("cannot read standard input (-d @-)")?;
            Ok(body)
        }
        Some(file) => {
            std::fs::read(file).with_context(|| format!("cannot read {file} (-d @{file})"))
        }
        None => Ok(data.as_bytes().to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_text_a_file_or_nothing_else() {
        assert_eq!(read_data("a=b").unwrap(), b"a=b");
        let scratch = tempfile::tempdir().unwrap();
        let file = scratch.path().join("body.bin");
        std::fs::write(&file, [0u8, 1, 2]).unwrap();
        assert_eq!(
            read_data(&format!("@{}", file.display())).unwrap(),
            [0u8, 1, 2]
        );
        assert!(read_data("@/no/such/file").is_err());
    }
}
