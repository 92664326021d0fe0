//! What the request-head check adds to every request: a browser-like head of 12 fields, and the
//! same head with 100 fields as a peer for scale.

use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use std::hint::black_box;
use wasmgate::request_head;
use wasmgate_config::HttpSettings;

fn head(fields: usize) -> Request<()> {
    let mut builder = Request::get("/fn/hello/items?id=42&view=full")
        .header("host", "gateway.example:8080")
        .header(
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        )
        .header("accept", "application/json")
        .header("accept-encoding", "gzip, deflate, br");
    for i in 4..fields {
        builder = builder.header(format!("x-field-{i}"), "some value of moderate length");
    }
    builder.body(()).expect("a valid request")
}

fn bench(c: &mut Criterion) {
    let limits = HttpSettings::default();
    for fields in [12, 100] {
        let req = head(fields);
        c.bench_function(&format!("request_head_check_{fields}_fields"), |b| {
            b.iter(|| request_head::check(black_box(&req), black_box(&limits)))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
