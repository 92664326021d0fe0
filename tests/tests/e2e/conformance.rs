//! Conformance across toolchains: the same guest contract (`tests/conformance/README.md`) built
//! with the `wasi` crate, `wstd`, spin-sdk 7 (WASI 0.3), spin-sdk 5, componentize-py and
//! componentize-js, each deployed and answering a table of cases whose every row states what the
//! reference host, `wasmtime serve -Scli` of wasmtime 48 (with `-Sp3 -Wcomponent-model-async`
//! for the 0.3 kind), answers (`scripts/conformance-compare` checks those live).

use crate::covers;
use wasmgate_tests::{Gateway, guests};

covers!(
    conf_rust,
    conf_wstd,
    conf_p3,
    conf_spin5,
    conf_python,
    conf_js
);

/// The component kinds: name and component. componentize-py and componentize-js components
/// import `wasi:http/outgoing-handler` and `wasi:sockets/*` whatever the app uses; those are
/// linked for every function and denied without a grant, so every kind deploys with none.
const KINDS: &[(&str, &str)] = &[
    ("rust", guests::CONF_RUST),
    ("wstd", guests::CONF_WSTD),
    ("p3", guests::CONF_P3),
    ("spin5", guests::CONF_SPIN5),
    ("python", guests::CONF_PYTHON),
    ("js", guests::CONF_JS),
];

/// One request and the answer every kind must give; `{kind}` in `body` is the kind's name.
struct Case {
    what: &'static str,
    method: &'static str,
    path: &'static str,
    request_headers: &'static [(&'static str, &'static str)],
    request_body: Body,
    status: u16,
    body: Body,
    headers: &'static [(&'static str, &'static str)],
    /// What `wasmtime serve -Scli` answers to the same request.
    reference: &'static str,
}

/// A request or response body.
#[derive(Clone, Copy)]
enum Body {
    Empty,
    Text(&'static str),
    /// `n` bytes of a repeating pattern, not valid UTF-8 throughout.
    Pattern(usize),
}

impl Body {
    fn bytes(self, kind: &str) -> Vec<u8> {
        match self {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.replace("{kind}", kind).into_bytes(),
            Body::Pattern(n) => (0..n).map(|i| (i % 251) as u8).collect(),
        }
    }
}

const CASES: &[Case] = &[
    Case {
        what: "hello",
        method: "GET",
        path: "/",
        request_headers: &[],
        request_body: Body::Empty,
        status: 200,
        body: Body::Text("hello from {kind}\n"),
        headers: &[("content-type", "text/plain")],
        reference: "the same: 200, the guest's body and headers",
    },
    Case {
        what: "echo of a small body and a header",
        method: "POST",
        path: "/echo",
        request_headers: &[("x-echo", "a value")],
        request_body: Body::Text("hi there"),
        status: 200,
        body: Body::Text("hi there"),
        headers: &[("x-echoed", "a value")],
        reference: "the same: 200, the body and x-echoed",
    },
    Case {
        what: "echo of 1 MiB of binary",
        method: "PUT",
        path: "/echo?x=1",
        request_headers: &[],
        request_body: Body::Pattern(1 << 20),
        status: 200,
        body: Body::Pattern(1 << 20),
        headers: &[],
        reference: "the same: 200 and the bytes as sent",
    },
    Case {
        what: "a status the guest chose",
        method: "GET",
        path: "/missing",
        request_headers: &[],
        request_body: Body::Empty,
        status: 404,
        body: Body::Text("not found\n"),
        headers: &[],
        reference: "the same: the guest's 404 and body (not a host error)",
    },
];

/// Signs `wasm` for `name` without grants and deploys it; the status.
async fn deploy(gw: &Gateway, name: &str, wasm: &str) -> u16 {
    gw.deploy(name, wasm).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn every_component_kind_deploys_and_answers_every_case_as_the_reference_host() {
    let gw = Gateway::builder().start().await.unwrap();
    let mut failures = Vec::new();
    for (kind, wasm) in KINDS {
        let name = format!("conf-{kind}");
        let status = deploy(&gw, &name, wasm).await;
        if status != 201 {
            failures.push(format!("{kind}: deploy answered {status}, not 201"));
            continue;
        }
        for case in CASES {
            let url = gw.url(&format!("/fn/{name}{}", case.path));
            let mut request = gw
                .client()
                .request(case.method.parse().unwrap(), url)
                .body(case.request_body.bytes(kind));
            for (header, value) in case.request_headers {
                request = request.header(*header, *value);
            }
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let body = response.bytes().await.unwrap();
            let mut wrong = Vec::new();
            if status != case.status {
                wrong.push(format!("status {status}, not {}", case.status));
            }
            if body[..] != case.body.bytes(kind)[..] {
                wrong.push(format!(
                    "body {:?} ({} bytes)",
                    String::from_utf8_lossy(&body[..body.len().min(80)]),
                    body.len()
                ));
            }
            let expected = [("x-conformance", *kind)];
            for (header, value) in case.headers.iter().chain(&expected) {
                let got = headers.get(*header).and_then(|v| v.to_str().ok());
                if got != Some(*value) {
                    wrong.push(format!("{header}: {got:?}, not {value:?}"));
                }
            }
            if !wrong.is_empty() {
                failures.push(format!(
                    "{kind}, {} ({} {}): {} (the reference host answers: {})",
                    case.what,
                    case.method,
                    case.path,
                    wrong.join("; "),
                    case.reference
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
