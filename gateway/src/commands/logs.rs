//! `wasmgate logs NAME [--follow] [--json]`: a function's recent guest log lines, read from the
//! gateway's server-sent events (`GET /functions/NAME/logs[?follow=true]`).

use super::client;
use anyhow::Context;
use futures::StreamExt;
use serde_json::{Value, json};
use std::io::Write;
use wasmgate::cli::LogsArgs;
use wasmgate_config::FunctionName;

/// Prints each line as `TIME REQUEST_ID STREAM TEXT` (or its JSON with `--json`); with
/// `--follow`, until interrupted or the function is deleted.
pub fn logs(args: &LogsArgs) -> anyhow::Result<()> {
    let target = client::resolve(&args.gateway)?;
    let name = FunctionName::try_from(args.name.clone())?;
    let mut path = format!("/functions/{}/logs", name.as_str());
    if args.follow {
        path.push_str("?follow=true");
    }
    client::runtime()?.block_on(async {
        let http = client::http()?;
        let response = client::send(
            target.admin(&http, reqwest::Method::GET, &path),
            &target.url,
        )
        .await?;
        if !response.status().is_success() {
            client::success(response, args.json).await?;
            return Ok(());
        }
        let mut events = Events::default();
        let mut body = response.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.context("the gateway's log stream broke off")?;
            for event in events.feed(&chunk) {
                show(&event, args.json)?;
            }
        }
        Ok(())
    })
}

/// Prints one event.
fn show(event: &Event, json: bool) -> anyhow::Result<()> {
    let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
    let mut stdout = std::io::stdout().lock();
    match event.name.as_str() {
        "line" if json => writeln!(stdout, "{data}")?,
        "line" => {
            let text = |key: &str| data[key].as_str().unwrap_or("-").to_owned();
            writeln!(
                stdout,
                "{} {} {} {}",
                text("time"),
                text("request_id"),
                text("stream"),
                text("line")
            )?;
        }
        "missed" => {
            let missed = data["missed"].as_u64().unwrap_or(0);
            if json {
                writeln!(stdout, "{}", json!({ "missed": missed }))?;
            }
            eprintln!("wasmgate: {missed} lines went by while this reader was behind");
        }
        "deleted" => {
            if json {
                writeln!(stdout, "{}", json!({ "deleted": true }))?;
            }
            eprintln!("wasmgate: the function was deleted");
        }
        _ => {}
    }
    stdout.flush()?;
    Ok(())
}

/// One server-sent event: its `event:` name (`message` when none) and its `data:` lines joined.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    name: String,
    data: String,
}

/// Splits a byte stream into server-sent events, whatever the chunk boundaries.
#[derive(Debug, Default)]
struct Events {
    /// The unfinished line.
    line: Vec<u8>,
    name: Option<String>,
    data: Vec<String>,
}

impl Events {
    /// The events `chunk` completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<Event> {
        let mut done = Vec::new();
        for &byte in chunk {
            if byte != b'\n' {
                self.line.push(byte);
                continue;
            }
            let raw = std::mem::take(&mut self.line);
            let line = String::from_utf8_lossy(&raw);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            if line.is_empty() {
                if !self.data.is_empty() || self.name.is_some() {
                    done.push(Event {
                        name: self.name.take().unwrap_or_else(|| "message".to_owned()),
                        data: std::mem::take(&mut self.data).join("\n"),
                    });
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => self.name = Some(value.to_owned()),
                "data" => self.data.push(value.to_owned()),
                _ => {}
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_found_across_chunk_boundaries_and_comments_skipped() {
        let stream = b": keep-alive\n\nevent: line\nid: 1\ndata: {\"line\":\"a\"}\n\nevent: missed\r\ndata: {\"missed\":3}\r\n\r\n";
        for split in 0..stream.len() {
            let mut events = Events::default();
            let mut seen = events.feed(&stream[..split]);
            seen.extend(events.feed(&stream[split..]));
            assert_eq!(
                seen,
                [
                    Event {
                        name: "line".into(),
                        data: r#"{"line":"a"}"#.into()
                    },
                    Event {
                        name: "missed".into(),
                        data: r#"{"missed":3}"#.into()
                    },
                ],
                "split at {split}"
            );
        }
    }
}
