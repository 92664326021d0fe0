//! `GET /functions/{name}/logs[?follow=true]`: a function's recent guest log lines on this node,
//! as server-sent events (`text/event-stream`), and with `follow` the new ones as they come.
//!
//! Each line is one event:
//!
//! ```text
//! event: line
//! id: 41
//! data: {"time":"2026-01-01T00:00:00.123Z","request_id":"…","stream":"stdout","line":"…","truncated":false}
//! ```
//!
//! A follower that fell more than [`wasmgate_pool::FOLLOW_BUFFER`] lines behind is told how many
//! it missed (`event: missed`, `data: {"missed": N}`) and goes on. A followed stream sends a
//! comment (`: keep-alive`) every [`KEEP_ALIVE`] while nothing happens, and ends when the function
//! is deleted (after `event: deleted`) or the gateway drains.

use crate::error::ApiError;
use crate::response::{GatewayBody, GatewayResponse, RelayError};
use crate::state::Gateway;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use futures::{Stream, StreamExt};
use http::{HeaderValue, StatusCode, header};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use serde_json::json;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;
use wasmgate_config::FunctionName;
use wasmgate_pool::{Followed, Follower, LogLine, LogRing};

/// How often a followed stream that has nothing to send says it is alive (an SSE comment), so
/// proxies keep it open and a client that went away is noticed.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Content type of the answer.
pub const EVENT_STREAM: &str = "text/event-stream";

/// Answers the ring of `name` (404 `function_not_found` when it is not deployed), following it
/// with `follow`.
pub fn logs(gw: &Gateway, name: &str, follow: bool) -> Result<GatewayResponse, ApiError> {
    let name = FunctionName::try_from(name.to_owned())?;
    if gw.catalog.snapshot().function(name.as_str()).is_none() {
        return Err(ApiError::FunctionNotFound {
            name: name.as_str().to_owned(),
        });
    }
    // Every deployed version holds its name's ring; none only if it was deleted just now.
    let ring = gw
        .pool
        .guest_log(name.as_str())
        .unwrap_or_else(LogRing::new);
    let body = if follow {
        let (backlog, follower) = ring.follow();
        events_then_follow(&backlog, follower, gw.draining())
    } else {
        let backlog = ring.recent();
        crate::response::full(events(&backlog))
    };
    let mut response = http::Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(EVENT_STREAM));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// `lines` as consecutive `line` events.
fn events(lines: &[std::sync::Arc<LogLine>]) -> Bytes {
    let mut out = Vec::with_capacity(lines.len() * 128);
    for line in lines {
        out.extend_from_slice(&event(line));
    }
    out.into()
}

/// One line as a `line` event.
pub fn event(line: &LogLine) -> Vec<u8> {
    let time: DateTime<Utc> = line.time.into();
    let data = json!({
        "time": time.to_rfc3339_opts(SecondsFormat::Millis, true),
        "request_id": &*line.request_id,
        "stream": line.stream,
        "line": &*line.text,
        "truncated": line.truncated,
    });
    // serde_json escapes newlines, so `data` is one line as SSE needs.
    format!("event: line\nid: {}\ndata: {data}\n\n", line.seq).into_bytes()
}

/// What a followed stream sends next, or `None` when it ends.
async fn next_chunk(
    follower: &mut Follower,
    tick: &mut tokio::time::Interval,
    draining: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<Bytes> {
    tokio::select! {
        followed = follower.next() => match followed {
            Followed::Line(line) => Some(event(&line).into()),
            Followed::Missed(n) => Some(
                format!("event: missed\ndata: {}\n\n", json!({ "missed": n })).into(),
            ),
            Followed::Closed => None,
        },
        _ = tick.tick() => Some(Bytes::from_static(b": keep-alive\n\n")),
        // Also when the gateway is gone (the sender dropped).
        _ = draining.wait_for(|draining| *draining) => None,
    }
}

/// The backlog's events, then every new line until the function is deleted or the gateway
/// drains.
fn events_then_follow(
    backlog: &[std::sync::Arc<LogLine>],
    follower: Follower,
    draining: tokio::sync::watch::Receiver<bool>,
) -> GatewayBody {
    let first = events(backlog);
    let start = tokio::time::Instant::now() + KEEP_ALIVE;
    let tick = tokio::time::interval_at(start, KEEP_ALIVE);
    let state = (follower, tick, draining, false);
    let rest = futures::stream::unfold(
        state,
        |(mut follower, mut tick, mut draining, ended)| async move {
            if ended {
                return None;
            }
            match next_chunk(&mut follower, &mut tick, &mut draining).await {
                Some(chunk) => Some((chunk, (follower, tick, draining, false))),
                None if !*draining.borrow() => {
                    // Deleted: say so, then end.
                    let last = Bytes::from_static(b"event: deleted\ndata: {}\n\n");
                    Some((last, (follower, tick, draining, true)))
                }
                None => None,
            }
        },
    );
    let stream = futures::stream::iter([first])
        .filter(|chunk| std::future::ready(!chunk.is_empty()))
        .chain(rest);
    either_right(EventBody {
        stream: Mutex::new(Box::pin(stream)),
    })
}

fn either_right(body: EventBody) -> GatewayBody {
    http_body_util::Either::Right(body.boxed())
}

/// A body of server-sent events from a stream of chunks. The stream sits in a mutex only to make
/// the body `Sync` as the gateway's body type requires; polling takes it through `&mut` (no lock).
struct EventBody {
    stream: Mutex<Pin<Box<dyn Stream<Item = Bytes> + Send>>>,
}

impl Body for EventBody {
    type Data = Bytes;
    type Error = RelayError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, RelayError>>> {
        let stream = self
            .get_mut()
            .stream
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        stream
            .as_mut()
            .poll_next(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::SystemTime;
    use wasmgate_pool::FOLLOW_BUFFER;

    /// The next chunk of `body` as text; `None` at its end.
    async fn next_text(body: &mut GatewayBody) -> Option<String> {
        let frame = body.frame().await?.unwrap();
        Some(String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_followed_stream_sends_kept_lines_new_lines_keep_alives_and_what_it_missed() {
        let ring = LogRing::new();
        ring.push(Arc::from("r0"), "stdout", "old");
        let (backlog, follower) = ring.follow();
        let (_drain, draining) = tokio::sync::watch::channel(false);
        let mut body = events_then_follow(&backlog, follower, draining);
        let first = next_text(&mut body).await.unwrap();
        assert!(first.starts_with("event: line\nid: 0\n"), "{first}");
        assert!(first.contains(r#""line":"old""#), "{first}");

        ring.push(Arc::from("r1"), "stderr", "new");
        let new = next_text(&mut body).await.unwrap();
        for part in [
            r#""request_id":"r1""#,
            r#""stream":"stderr""#,
            r#""line":"new""#,
        ] {
            assert!(new.contains(part), "{part} in {new}");
        }

        // Nothing to say: a comment once per KEEP_ALIVE (the paused clock jumps to it).
        let before = tokio::time::Instant::now();
        assert_eq!(next_text(&mut body).await.unwrap(), ": keep-alive\n\n");
        assert_eq!(before.elapsed(), KEEP_ALIVE);

        // Behind by more than the buffer: told how many went by, then the rest.
        let extra = 3;
        for i in 0..FOLLOW_BUFFER + extra {
            ring.push(Arc::from("r2"), "stdout", &i.to_string());
        }
        assert_eq!(
            next_text(&mut body).await.unwrap(),
            format!("event: missed\ndata: {{\"missed\":{extra}}}\n\n")
        );
        let next = next_text(&mut body).await.unwrap();
        assert!(next.contains(&format!(r#""line":"{extra}""#)), "{next}");
        let last = format!(r#""line":"{}""#, FOLLOW_BUFFER + extra - 1);
        while !next_text(&mut body).await.unwrap().contains(&last) {}

        // Deleted: one last event, then the end.
        ring.close();
        assert_eq!(
            next_text(&mut body).await.unwrap(),
            "event: deleted\ndata: {}\n\n"
        );
        assert_eq!(next_text(&mut body).await, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_followed_stream_ends_when_the_gateway_drains() {
        let ring = LogRing::new();
        let (backlog, follower) = ring.follow();
        let (drain, draining) = tokio::sync::watch::channel(false);
        let mut body = events_then_follow(&backlog, follower, draining);
        drain.send_replace(true);
        assert_eq!(next_text(&mut body).await, None);
        drop(body);
        assert_eq!(ring.followers(), 0);
    }

    #[test]
    fn a_line_is_one_event_whose_data_is_one_json_line() {
        let line = LogLine {
            seq: 7,
            time: SystemTime::UNIX_EPOCH + Duration::from_millis(1_500),
            request_id: Arc::from("req-1"),
            stream: "stderr",
            text: "two\nlines \"quoted\"".into(),
            truncated: false,
        };
        let text = String::from_utf8(event(&line)).unwrap();
        // Three fields, then the blank line that ends the event.
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[3], "");
        assert_eq!(lines[0], "event: line");
        assert_eq!(lines[1], "id: 7");
        assert!(text.ends_with("\n\n"));
        let data: serde_json::Value =
            serde_json::from_str(lines[2].strip_prefix("data: ").unwrap()).unwrap();
        assert_eq!(
            data,
            json!({
                "time": "1970-01-01T00:00:01.500Z",
                "request_id": "req-1",
                "stream": "stderr",
                "line": "two\nlines \"quoted\"",
                "truncated": false,
            })
        );
    }
}
