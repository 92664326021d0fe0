//! The egress guard's cost per outgoing request: the host check against a typical grant of three
//! patterns plus the address classification, for the outcomes a request can have.
//!
//! `cargo bench -p wasmgate-capabilities --bench egress`

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::IpAddr;
use wasmgate_capabilities::egress::Rules;
use wasmgate_config::{HostPattern, IpRange};

fn patterns() -> Vec<HostPattern> {
    [
        "api.example.com",
        "*.svc.example.com:8443",
        "10.1.0.0/16:5432",
    ]
    .iter()
    .map(|p| p.parse().expect("valid pattern"))
    .collect()
}

/// One request's decisions: may the host be asked for, may its resolved address be connected.
fn decide(rules: &Rules, host: &str, port: u16, ip: IpAddr) -> bool {
    rules.check_host(host, port).is_ok() && rules.check_address(ip).is_ok()
}

fn egress(c: &mut Criterion) {
    let opened: Vec<IpRange> = vec!["10.0.0.0/8".parse().expect("valid range")];
    let listed = Rules::new(Some(&patterns()), &opened);
    let unlisted = Rules::new(None, &[]);
    let public: IpAddr = "93.184.216.34".parse().expect("valid address");
    let public_v6: IpAddr = "2606:4700:4700::1111".parse().expect("valid address");
    let loopback: IpAddr = "127.0.0.1".parse().expect("valid address");
    let internal: IpAddr = "10.1.2.3".parse().expect("valid address");

    let mut group = c.benchmark_group("egress_check");
    group.bench_function("list3_first_pattern_public_v4", |b| {
        b.iter(|| {
            decide(
                &listed,
                black_box("api.example.com"),
                443,
                black_box(public),
            )
        })
    });
    group.bench_function("list3_wildcard_pattern_public_v6", |b| {
        b.iter(|| {
            decide(
                &listed,
                black_box("a.b.svc.example.com"),
                8443,
                black_box(public_v6),
            )
        })
    });
    group.bench_function("list3_not_listed", |b| {
        b.iter(|| decide(&listed, black_box("other.example"), 443, black_box(public)))
    });
    group.bench_function("list3_ip_literal_opened_range", |b| {
        b.iter(|| decide(&listed, black_box("10.1.2.3"), 5432, black_box(internal)))
    });
    group.bench_function("no_list_loopback_refused", |b| {
        b.iter(|| decide(&unlisted, black_box("localhost"), 80, black_box(loopback)))
    });
    group.finish();
    c.bench_function("egress_rules_build_list3", |b| {
        let patterns = patterns();
        b.iter(|| Rules::new(Some(black_box(&patterns)), black_box(&opened)))
    });
}

criterion_group!(benches, egress);
criterion_main!(benches);
