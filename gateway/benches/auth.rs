//! What authentication adds per request: the admin check with the right token, a wrong one and
//! none (the failure path counts and rate-limits its log line), and the invoke check on a public
//! function (the hot path) and on one listing two tokens.

use criterion::{Criterion, criterion_group, criterion_main};
use http::Request;
use prometheus::{IntCounterVec, Opts};
use std::hint::black_box;
use wasmgate::auth::{Access, AuthFailures};
use wasmgate_config::{Settings, TokenDigest};

const ADMIN: &str = "bench-admin-token-0123456789abcdefghijkl";

fn request(token: Option<&str>) -> Request<()> {
    let mut builder = Request::get("/functions/hello").header("host", "gateway.example:8080");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(()).expect("a valid request")
}

fn bench(c: &mut Criterion) {
    let settings = Settings {
        admin_token: Some(ADMIN.into()),
        ..Settings::default()
    };
    let counter =
        IntCounterVec::new(Opts::new("failures", "bench"), &["audience"]).expect("a valid metric");
    let access = Access::new(&settings, AuthFailures::new(counter)).expect("configured token");
    // Failed checks log at warn at most 5 per second; no subscriber is installed, so the bench
    // measures the check, the count and the rate limiter, not log output.
    for (name, token) in [
        ("admin_right_token", Some(ADMIN)),
        (
            "admin_wrong_token",
            Some("bench-wrong-token-0123456789abcdefghijkl"),
        ),
        ("admin_no_token", None),
    ] {
        let req = request(token);
        c.bench_function(&format!("auth_{name}"), |b| {
            b.iter(|| black_box(access.admin(black_box(&req)).is_ok()))
        });
    }
    let public: Vec<TokenDigest> = Vec::new();
    let anonymous = request(None);
    c.bench_function("auth_invoke_public_function", |b| {
        b.iter(|| {
            black_box(
                access
                    .invoke(black_box(&public), black_box(&anonymous))
                    .is_ok(),
            )
        })
    });
    let listed: Vec<TokenDigest> = ["a", "b"]
        .map(|c| TokenDigest::try_from(c.repeat(64)).expect("64 hex digits"))
        .to_vec();
    let caller = request(Some("some-caller-token-of-ordinary-length"));
    c.bench_function("auth_invoke_two_listed_tokens", |b| {
        b.iter(|| {
            black_box(
                access
                    .invoke(black_box(&listed), black_box(&caller))
                    .is_ok(),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
