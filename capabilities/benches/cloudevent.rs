//! What CloudEvents handling costs per message: making a guest's or a publisher's event
//! canonical (the check every event pays on its way into the bus), a plain message passing the
//! same check, and writing and reading an event in each NATS format.
//!
//! `cargo bench -p wasmgate-capabilities --bench cloudevent`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use wasmgate_capabilities::messaging::Message;
use wasmgate_capabilities::messaging::cloudevent::{self, Format};

/// A typical event: the four required attributes, a time, one extension, 256 bytes of JSON.
fn event_message() -> Message {
    let data = format!("{{\"order\":\"{}\"}}", "x".repeat(242));
    Message::new("orders.created", data)
        .with_content_type("application/json")
        .with_metadata("ce-specversion", "1.0")
        .with_metadata("ce-id", "0b8d7c4e-6a55-4c1b-9f51-1f7f0e2d9a10")
        .with_metadata("ce-source", "/shop/eu")
        .with_metadata("ce-type", "order.created")
        .with_metadata("ce-time", "2026-11-30T10:00:00.123Z")
        .with_metadata("ce-tenant", "acme")
}

fn cloudevent(c: &mut Criterion) {
    let event = event_message();
    let plain = Message::new("orders.created", "order 1").with_content_type("text/plain");
    let model = cloudevent::from_message(&event)
        .expect("valid event")
        .expect("an event");
    let protobuf = Format::Protobuf.encode(&model).expect("encodes");
    let json = Format::Json.encode(&model).expect("encodes");

    let mut group = c.benchmark_group("cloudevent");
    group.bench_function("canonical_event", |b| {
        b.iter(|| cloudevent::canonical(black_box(event.clone())))
    });
    group.bench_function("canonical_plain", |b| {
        b.iter(|| cloudevent::canonical(black_box(plain.clone())))
    });
    group.bench_function("clone_only_baseline", |b| {
        b.iter(|| black_box(event.clone()))
    });
    group.bench_function("protobuf_encode", |b| {
        b.iter(|| Format::Protobuf.encode(black_box(&model)))
    });
    group.bench_function("protobuf_decode", |b| {
        b.iter(|| Format::Protobuf.decode(black_box(&protobuf)))
    });
    group.bench_function("json_encode", |b| {
        b.iter(|| Format::Json.encode(black_box(&model)))
    });
    group.bench_function("json_decode", |b| {
        b.iter(|| Format::Json.decode(black_box(&json)))
    });
    group.finish();
}

criterion_group!(benches, cloudevent);
criterion_main!(benches);
