//! What the edge's byte-level checks add per request: the strict HTTP/1.1 framing check over a
//! typical request head (a browser-like GET, ~450 bytes) and over a POST with a 1 MiB body
//! (skipped by length), and the HTTP/2 control-frame scanner over one request's frames (HEADERS
//! with END_STREAM, a WINDOW_UPDATE) and over a 64 KiB DATA read.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Instant;
use wasmgate::server::h1_framing::RequestFraming;
use wasmgate::server::h2_frames::{ControlFrameBudget, FrameScanner};

const GET: &[u8] = b"GET /fn/hello/items?id=42 HTTP/1.1\r\n\
Host: gateway.example:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\
Connection: keep-alive\r\n\r\n";

/// One 9-byte HTTP/2 frame header followed by `len` payload bytes of zeros.
fn frame(kind: u8, flags: u8, stream: u32, len: usize) -> Vec<u8> {
    let len32 = u32::try_from(len).expect("a small frame");
    let mut out = len32.to_be_bytes()[1..].to_vec();
    out.extend_from_slice(&[kind, flags]);
    out.extend_from_slice(&stream.to_be_bytes());
    out.resize(9 + len, 0);
    out
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_framing");
    group.throughput(Throughput::Elements(1));
    let mut framing = RequestFraming::new(32 * 1024);
    group.bench_function("get_head", |b| {
        b.iter(|| black_box(framing.inspect(black_box(GET))).expect("a valid request"))
    });
    let mut post =
        b"POST /fn/upload HTTP/1.1\r\nHost: gateway.example\r\nContent-Length: 1048576\r\n\r\n"
            .to_vec();
    post.resize(post.len() + 1024 * 1024, b'x');
    let mut framing = RequestFraming::new(32 * 1024);
    group.bench_function("post_1mib_body_in_64kib_reads", |b| {
        b.iter(|| {
            for read in post.chunks(64 * 1024) {
                black_box(framing.inspect(black_box(read))).expect("a valid request");
            }
        })
    });
    group.finish();

    let mut group = c.benchmark_group("h2_frames");
    group.throughput(Throughput::Elements(1));
    let budget = ControlFrameBudget {
        burst: 1_000,
        per_second: 500,
    };
    let mut scanner = FrameScanner::new(budget, Instant::now());
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend(frame(0x4, 0, 0, 0));
    scanner
        .inspect(&preface, Instant::now())
        .expect("a valid preface");
    // The WINDOW_UPDATE costs a token; the 16 KiB written per iteration earns it back.
    let mut request = frame(0x1, 0x5, 1, 40);
    request.extend(frame(0x8, 0, 0, 4));
    group.bench_function("request_headers_and_window_update", |b| {
        b.iter(|| {
            scanner.wrote(16 * 1024);
            black_box(scanner.inspect(black_box(&request), Instant::now())).expect("no flood")
        })
    });
    let data = frame(0x0, 0, 1, 64 * 1024 - 9);
    group.bench_function("data_read_64kib", |b| {
        b.iter(|| black_box(scanner.inspect(black_box(&data), Instant::now())).expect("no flood"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
