//! Proves the behaviours wasmtime's own wasi:http tests exercise, one per path:
//! `/stream-echo` echoes the body chunk by chunk as it arrives (no buffering, any size),
//! `/forward` sends the request (method, body, `x-*` headers) to the URL in `x-upstream` and
//! streams the answer back, `/trailers` echoes the body and answers the request's trailers as
//! response trailers (plus `x-trailer: done`), `/forbidden` lists what setting each forbidden
//! header does (`name: forbidden`), `/no-response` returns without setting a response,
//! `/trap-before` traps before setting one, and `/trap-after` traps after the head and 5 bytes.

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, HeaderError, IncomingBody, IncomingRequest, InputStream, Method,
    OutgoingBody, OutgoingRequest, OutgoingResponse, OutputStream, ResponseOutparam, Scheme,
};
use wasi::io::streams::StreamError;

/// Headers a guest may not set: wasmtime-wasi-http's `DEFAULT_FORBIDDEN_HEADERS` (hop-by-hop
/// ones and `host`; `te` is not among them).
const FORBIDDEN: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "host",
    "http2-settings",
];

struct Cases;
wasi::http::proxy::export!(Cases);

impl Guest for Cases {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.split('?').next().unwrap_or("/") {
            "/stream-echo" => stream_echo(request, out, false),
            "/trailers" => stream_echo(request, out, true),
            "/forward" => forward(request, out),
            "/forbidden" => forbidden(out),
            "/no-response" => {}
            "/trap-before" => panic!("trapping before setting a response"),
            "/trap-after" => {
                let response = OutgoingResponse::new(Fields::new());
                let body = response.body().expect("the first body");
                ResponseOutparam::set(out, Ok(response));
                let stream = body.write().expect("the first stream");
                wasmgate_guests::write_all(&stream, b"hello");
                panic!("trapping after the head and 5 bytes");
            }
            _ => wasmgate_guests::respond(out, 404, &[], b"not found\n"),
        }
    }
}

/// Copies `input` to `output` as it arrives, flushing each chunk.
fn pump(input: &InputStream, output: &OutputStream) {
    loop {
        match input.blocking_read(64 * 1024) {
            Ok(chunk) => wasmgate_guests::write_all(output, &chunk),
            Err(StreamError::Closed) => return,
            Err(StreamError::LastOperationFailed(_)) => return,
        }
    }
}

/// Echoes the body as it streams in; with `trailers`, answers the request's trailers too.
fn stream_echo(request: IncomingRequest, out: ResponseOutparam, trailers: bool) {
    let headers = Fields::new();
    let _ = headers.append("content-type", b"application/octet-stream");
    if trailers {
        let _ = headers.append("trailer", b"x-trailer");
    }
    let response = OutgoingResponse::new(headers);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    let Ok(incoming) = request.consume() else {
        return;
    };
    if let (Ok(input), Ok(output)) = (incoming.stream(), body.write()) {
        pump(&input, &output);
    }
    let request_trailers = finish_incoming(incoming);
    let response_trailers = trailers.then(|| {
        let fields = Fields::new();
        for (name, value) in request_trailers {
            let _ = fields.append(&name, &value);
        }
        let _ = fields.append("x-trailer", b"done");
        fields
    });
    let _ = OutgoingBody::finish(body, response_trailers);
}

/// Ends an incoming body (its stream already dropped) and returns its trailers.
fn finish_incoming(body: IncomingBody) -> Vec<(String, Vec<u8>)> {
    let future = IncomingBody::finish(body);
    future.subscribe().block();
    match future.get() {
        Some(Ok(Ok(Some(trailers)))) => trailers.entries(),
        _ => Vec::new(),
    }
}

/// What setting each forbidden header does, a line each: `name: forbidden` (or `allowed`, or
/// another error), through `set`, `append` and `from-list` alike.
fn forbidden(out: ResponseOutparam) {
    let mut report = String::new();
    for name in FORBIDDEN {
        let fields = Fields::new();
        let set = fields.set(name, &[b"x".to_vec()]);
        let append = fields.append(name, b"x");
        let from_list = Fields::from_list(&[(name.to_string(), b"x".to_vec())]).map(|_| ());
        let outcomes = [set, append, from_list].map(|r| match r {
            Ok(()) => "allowed",
            Err(HeaderError::Forbidden) => "forbidden",
            Err(HeaderError::InvalidSyntax) => "invalid-syntax",
            Err(HeaderError::Immutable) => "immutable",
        });
        if outcomes.iter().all(|o| *o == outcomes[0]) {
            report.push_str(&format!("{name}: {}\n", outcomes[0]));
        } else {
            report.push_str(&format!("{name}: {outcomes:?}\n"));
        }
    }
    wasmgate_guests::respond(
        out,
        200,
        &[("content-type", "text/plain")],
        report.as_bytes(),
    );
}

/// Sends the request to the URL in `x-upstream` and streams the answer back; a refusal or
/// failure answers 502 with the `wasi:http` error code.
fn forward(request: IncomingRequest, out: ResponseOutparam) {
    let entries = request.headers().entries();
    let Some(url) = entries
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("x-upstream"))
        .map(|(_, value)| String::from_utf8_lossy(value).into_owned())
    else {
        return wasmgate_guests::respond(out, 400, &[], b"pass x-upstream: http://...\n");
    };
    let (scheme, rest) = match url.split_once("://") {
        Some(("https", rest)) => (Scheme::Https, rest),
        Some((_, rest)) => (Scheme::Http, rest),
        None => (Scheme::Http, url.as_str()),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let headers = Fields::new();
    for (name, value) in &entries {
        if name.starts_with("x-") && name != "x-upstream" {
            let _ = headers.append(name, value);
        }
    }
    let method = request.method();
    let outgoing = OutgoingRequest::new(headers);
    let _ = outgoing.set_method(&method);
    let _ = outgoing.set_scheme(Some(&scheme));
    let _ = outgoing.set_authority(Some(authority));
    let _ = outgoing.set_path_with_query(Some(path));
    let Ok(outgoing_body) = outgoing.body() else {
        return;
    };
    let future = match outgoing_handler::handle(outgoing, None) {
        Ok(future) => future,
        Err(code) => return bad_gateway(out, &code),
    };
    if !matches!(method, Method::Get | Method::Head)
        && let Ok(incoming) = request.consume()
    {
        if let (Ok(input), Ok(output)) = (incoming.stream(), outgoing_body.write()) {
            pump(&input, &output);
        }
        finish_incoming(incoming);
    }
    let _ = OutgoingBody::finish(outgoing_body, None);
    future.subscribe().block();
    let upstream = match future.get() {
        Some(Ok(Ok(upstream))) => upstream,
        Some(Ok(Err(code))) => return bad_gateway(out, &code),
        _ => {
            return wasmgate_guests::respond(out, 502, &[], b"error: no answer\n");
        }
    };
    let headers = Fields::new();
    for (name, value) in upstream.headers().entries() {
        if !FORBIDDEN.contains(&name.as_str()) && name != "content-length" {
            let _ = headers.append(&name, &value);
        }
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(upstream.status());
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(incoming) = upstream.consume() {
        if let (Ok(input), Ok(output)) = (incoming.stream(), body.write()) {
            pump(&input, &output);
        }
        finish_incoming(incoming);
    }
    let _ = OutgoingBody::finish(body, None);
}

fn bad_gateway(out: ResponseOutparam, code: &ErrorCode) {
    let text = format!("error: {code:?}\n");
    wasmgate_guests::respond(out, 502, &[], text.as_bytes());
}

fn main() {}
