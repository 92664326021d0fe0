//! Proves event triggers: each message is stored in bucket `events` under its topic (a message
//! whose data is `fail` is refused, to exercise retries and the dead-letter subject, unless it is
//! itself a dead letter); `GET /{topic}`
//! over HTTP answers what was stored, `GET /count/{topic}` how many deliveries were tried, and
//! `POST /send/{subject}` publishes the body through `wasi:messaging/producer`; with
//! `?fetch=URL` it first GETs the URL through `wasi:http/outgoing-handler` (one call that fans
//! out to a request and a message, for tracing). A message
//! `ts:<unix nanos>` stores its publish-to-handler latency in microseconds under `latency/{topic}`.
//! Every delivery also stores exactly what the guest received under `record/{topic}`: a line
//! `content-type: X` (`-` for none), a line `key: value` per metadata pair in order, a blank line,
//! then the data bytes. A schedule fire (`ce-type: dev.wasmgate.schedule`) also counts its
//! `ce-id` under `fires/{ce-id}` and appends its `ce-time` as a line to `log/{topic}`.

use wasi::exports::http::incoming_handler::Guest as HttpGuest;
use wasi::http::types::{IncomingRequest, ResponseOutparam};

mod bindings {
    wit_bindgen::generate!({
        path: "wit/caps-events",
        world: "events-guest",
        generate_all,
    });
}
use bindings::exports::wasi::messaging::incoming_handler::Guest as MessageGuest;
use bindings::wasi::keyvalue::{atomics, store};
use bindings::wasi::messaging::producer;
use bindings::wasi::messaging::types::{Client, Error, Message};

struct Events;
wasi::http::proxy::export!(Events);
bindings::export!(Events with_types_in bindings);

impl MessageGuest for Events {
    fn handle(message: Message) -> Result<(), Error> {
        let topic = message.topic().unwrap_or_default();
        let bucket = store::open("events").map_err(|e| Error::Other(format!("{e:?}")))?;
        atomics::increment(&bucket, &format!("tries/{topic}"), 1)
            .map_err(|e| Error::Other(format!("{e:?}")))?;
        bucket
            .set(&format!("record/{topic}"), &record(&message))
            .map_err(|e| Error::Other(format!("{e:?}")))?;
        schedule_fire(&bucket, &topic, &message).map_err(|e| Error::Other(format!("{e:?}")))?;
        let data = message.data();
        // `ts:<unix nanos>` from a benchmark: store how long the message took to get here.
        if let Some(sent) = std::str::from_utf8(&data)
            .ok()
            .and_then(|d| d.strip_prefix("ts:"))
            .and_then(|n| n.parse::<u128>().ok())
        {
            let now = wasi::clocks::wall_clock::now();
            let now = u128::from(now.seconds) * 1_000_000_000 + u128::from(now.nanoseconds);
            let micros = now.saturating_sub(sent) / 1000;
            return bucket
                .set(&format!("latency/{topic}"), micros.to_string().as_bytes())
                .map_err(|e| Error::Other(format!("{e:?}")));
        }
        // Dead letters of refused messages still read `fail`: only originals are refused.
        if data == b"fail" && !topic.starts_with("wasmgate.dead-letter.") {
            return Err(Error::Other("asked to fail".into()));
        }
        let mut stored = data;
        if let Some(meta) = message.metadata() {
            for (k, v) in meta {
                stored.extend_from_slice(format!(" {k}={v}").as_bytes());
            }
        }
        bucket
            .set(&topic, &stored)
            .map_err(|e| Error::Other(format!("{e:?}")))
    }
}

/// Counts a schedule fire by its `ce-id` and logs its `ce-time`; other messages are left alone.
fn schedule_fire(
    bucket: &store::Bucket,
    topic: &str,
    message: &Message,
) -> Result<(), store::Error> {
    let metadata = message.metadata().unwrap_or_default();
    let attribute = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    if attribute("ce-type").as_deref() != Some("dev.wasmgate.schedule") {
        return Ok(());
    }
    let (Some(id), Some(time)) = (attribute("ce-id"), attribute("ce-time")) else {
        return Ok(());
    };
    atomics::increment(bucket, &format!("fires/{id}"), 1)?;
    let key = format!("log/{topic}");
    let mut log = bucket.get(&key)?.unwrap_or_default();
    log.extend_from_slice(format!("{time}\n").as_bytes());
    bucket.set(&key, &log)
}

/// What `message` carries, as the `record/{topic}` value.
fn record(message: &Message) -> Vec<u8> {
    let mut text = format!(
        "content-type: {}\n",
        message.content_type().unwrap_or_else(|| "-".into())
    );
    for (key, value) in message.metadata().unwrap_or_default() {
        text.push_str(&format!("{key}: {value}\n"));
    }
    text.push('\n');
    let mut record = text.into_bytes();
    record.extend_from_slice(&message.data());
    record
}

impl HttpGuest for Events {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let path = path.trim_start_matches('/').to_owned();
        if let Some(target) = path.strip_prefix("send/") {
            let (subject, fetch_url) = match target.split_once("?fetch=") {
                Some((subject, url)) => (subject, Some(url)),
                None => (target, None),
            };
            if let Some(Err(e)) = fetch_url.map(fetch) {
                wasmgate_guests::respond(out, 502, &[], format!("fetch: {e}").as_bytes());
                return;
            }
            let body = wasmgate_guests::read_body(&request);
            let sent = Client::connect("default").and_then(|client| {
                let message = Message::new(&body);
                message.set_content_type("text/plain");
                producer::send(&client, subject, message)
            });
            let (status, text) = match sent {
                Ok(()) => (200, "sent".to_owned()),
                Err(e) => (500, format!("send: {e:?}")),
            };
            wasmgate_guests::respond(out, status, &[], text.as_bytes());
            return;
        }
        let (key, counting) = match path.strip_prefix("count/") {
            Some(topic) => (format!("tries/{topic}"), true),
            None => (path.to_owned(), false),
        };
        let value = store::open("events")
            .ok()
            .and_then(|b| b.get(&key).ok().flatten());
        let (status, body) = match value {
            Some(v) => (200, v),
            None if counting => (200, b"0".to_vec()),
            None => (404, b"<none>".to_vec()),
        };
        wasmgate_guests::respond(out, status, &[("content-type", "text/plain")], &body);
    }
}

/// GETs `url` (`http://authority/path`) through `wasi:http/outgoing-handler`; its status.
fn fetch(url: &str) -> Result<u16, String> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{Fields, OutgoingRequest, Scheme};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, "/"),
    };
    let request = OutgoingRequest::new(Fields::new());
    let set = |ok: Result<(), ()>, what: &str| ok.map_err(|()| format!("bad {what} in {url}"));
    set(request.set_scheme(Some(&Scheme::Http)), "scheme")?;
    set(request.set_authority(Some(authority)), "authority")?;
    set(request.set_path_with_query(Some(path)), "path")?;
    let pending = outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending
        .get()
        .ok_or("no response")?
        .map_err(|()| "response taken twice".to_owned())?
        .map_err(|e| format!("{e:?}"))?;
    Ok(response.status())
}

fn main() {}
