//! Fuzzes `wasmgate-claims`: reading, stripping and verifying signed components.
//!
//! The first input byte picks the mode. Even: the rest is a component as a client would upload
//! it, and `extract`, `strip`, `module_hash`, `component_info`, `decode_unverified` and `verify`
//! must answer `Ok` or `Err`; whatever parses must strip idempotently and sign then verify.
//! Odd: the rest is an edit script applied to a valid component signed at start-up by a fixed
//! key (byte overwrites, insertions, removals, truncation, JWT text edits, moved, doubled or
//! padded sections), and `verify` may say `Ok` only if the signed parts are unchanged: the same
//! module hash, the same stripped bytes by an independent section reader, the same claims.
//!
//! A bug is any panic, a forged or edited component that verifies with other bytes or claims than
//! were signed, or an untouched (or merely re-framed) signed component that no longer verifies.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};
use wasmgate_claims::{
    Claims, IssuerKey, JWT_SECTION, SignOptions, SigningKey, component_info, decode_unverified,
    extract, module_hash, sign, strip, verify,
};
use wasmgate_config::Capability;
use wasmgate_fuzz::{Section, frame_custom, frame_section, split};

/// The clock every check runs at, so a crash replays the same way on any day.
fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

/// One valid signed component and what signing it produced.
struct Seed {
    header: [u8; 8],
    /// Its sections without the `jwt` one, in order.
    sections: Vec<Section>,
    stripped: Vec<u8>,
    token: String,
    signed: Vec<u8>,
    claims: Claims,
    hash: String,
}

struct Fixture {
    key: SigningKey,
    issuer: IssuerKey,
    seeds: Vec<Seed>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = wasmgate_fuzz::fixed_key();
        let issuer = key.issuer();
        let opts = SignOptions {
            name: "hello".into(),
            caps: vec![Capability::Keyvalue, Capability::Config],
            expires_in: Some(Duration::from_secs(24 * 3600)),
            version: Some("1.0.0".into()),
            tags: vec!["fuzz".into()],
            allowed_hosts: Default::default(),
            audience: Some("fuzz-gateway".into()),
            manifest: Some(b"[scale]\nmax_instances = 2\n".to_vec()),
        };
        let seeds = [
            wasmgate_fuzz::empty_component(),
            wasmgate_fuzz::message_handler(),
            wasmgate_fuzz::import_and_export(),
            wasmgate_fuzz::nested_module(),
            wasmgate_fuzz::core_module(),
        ]
        .iter()
        .map(|component| {
            let signed = sign(component, &key, &opts, now()).expect("sign a seed");
            let verified = verify(&signed, &[issuer], now()).expect("a seed verifies");
            let parts = split(&signed).expect("a seed splits");
            let stripped = strip(&signed).expect("a seed strips");
            Seed {
                header: parts.header,
                sections: parts.without_custom(JWT_SECTION),
                hash: module_hash(&signed).expect("a seed hashes"),
                stripped,
                token: verified.token,
                claims: verified.claims,
                signed,
            }
        })
        .collect();
        Fixture { key, issuer, seeds }
    })
}

/// How the edited component is put together from a seed, then damaged.
#[derive(Arbitrary, Debug)]
struct Script {
    seed: u8,
    token: Vec<TokenEdit>,
    /// Where the `jwt` section goes among the others.
    placement: Placement,
    /// Extra LEB128 bytes in one section's size: (section index, 0..=7 extra bytes).
    padding: Option<(u8, u8)>,
    /// Custom sections slipped in: (position, name, data).
    extra: Vec<(u8, ExtraName, Vec<u8>)>,
    bytes: Vec<ByteEdit>,
}

#[derive(Arbitrary, Debug)]
enum Placement {
    Last,
    Before(u8),
    Twice(u8),
    Missing,
}

#[derive(Arbitrary, Debug)]
enum ExtraName {
    Jwt,
    JwtLike(u8),
    Other(String),
}

#[derive(Arbitrary, Debug)]
enum TokenEdit {
    Set {
        at: u16,
        byte: u8,
    },
    Insert {
        at: u16,
        text: String,
    },
    Remove {
        at: u16,
        len: u8,
    },
    Truncate {
        at: u16,
    },
    /// Swaps two of the dot-separated parts.
    Swap(u8, u8),
    /// Replaces one part with fuzzer text.
    Part(u8, String),
    /// Replaces the header with base64url of one of a few attack-shaped headers.
    Header(HeaderChoice),
    /// Re-encodes the payload with one claim changed, keeping the old signature.
    Claim(ClaimEdit),
}

#[derive(Arbitrary, Debug)]
enum HeaderChoice {
    AlgNone,
    Hs256,
    EdDsaWithCrit,
    EdDsaWithKid(String),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum ClaimEdit {
    Hash(String),
    Sub(String),
    AddCap(u8),
    DropExp,
    Exp(u64),
    Nbf(u64),
    Iss(String),
}

#[derive(Arbitrary, Debug)]
enum ByteEdit {
    Set { at: u32, byte: u8 },
    Flip { at: u32, bit: u8 },
    Insert { at: u32, bytes: Vec<u8> },
    Remove { at: u32, len: u16 },
    Truncate { at: u32 },
}

fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((mode, rest)) if mode % 2 == 1 => {
            if let Ok(script) = Script::arbitrary_take_rest(Unstructured::new(rest)) {
                edited(&script);
            }
        }
        Some((_, rest)) => raw(rest),
        None => {}
    }
});

/// Mode (a): bytes as uploaded.
fn raw(bytes: &[u8]) {
    let fx = fixture();
    let extracted = extract(bytes);
    let _ = component_info(bytes);
    if let Ok(Some(token)) = &extracted {
        let _ = decode_unverified(token);
    }
    let verified = verify(bytes, &[fx.issuer], now());
    if let Ok(v) = &verified {
        // Only our key signs, and only seeds; anything else verifying is a forgery.
        assert_eq!(
            Some(module_hash(bytes).expect("verified bytes hash")),
            Some(v.claims.wasmgate.hash.clone())
        );
    }
    let Ok(stripped) = strip(bytes) else {
        assert!(
            verified.is_err(),
            "verify accepted bytes that strip refuses"
        );
        return;
    };
    // Stripping only drops sections and shortens padded sizes.
    assert!(stripped.len() <= bytes.len(), "strip grew the bytes");
    assert_eq!(
        strip(&stripped).expect("stripped bytes parse again"),
        stripped,
        "strip is not idempotent"
    );
    assert_eq!(
        extract(&stripped).expect("stripped bytes parse again"),
        None,
        "stripped bytes still carry a jwt section"
    );
    let hash = module_hash(bytes).expect("bytes that strip also hash");
    assert_eq!(module_hash(&stripped).expect("stripped bytes hash"), hash);
    let opts = SignOptions {
        name: "raw".into(),
        ..SignOptions::default()
    };
    let signed = sign(bytes, &fx.key, &opts, now()).expect("bytes that strip also sign");
    let verified = verify(&signed, &[fx.issuer], now()).expect("what we sign verifies");
    assert_eq!(
        verified.claims.wasmgate.hash, hash,
        "signing hashed other bytes"
    );
    assert_eq!(strip(&signed).expect("signed bytes strip"), stripped);
}

/// Mode (b): a signed seed, edited.
fn edited(script: &Script) {
    let fx = fixture();
    let seed = &fx.seeds[usize::from(script.seed) % fx.seeds.len()];
    let token = edit_token(&seed.token, &script.token);
    let bytes = assemble(seed, &token, script);

    let _ = extract(&bytes);
    let _ = component_info(&bytes);
    let _ = decode_unverified(&token);
    let stripped = strip(&bytes);
    let verdict = verify(&bytes, &[fx.issuer], now());

    if tracing() {
        let outcome = verdict.as_ref().map_or_else(|e| e.code(), |_| "ok");
        let changed = if bytes == seed.signed {
            "same"
        } else {
            "edited"
        };
        eprintln!(
            "seed {} {changed} -> {outcome}",
            usize::from(script.seed) % fx.seeds.len()
        );
    }
    if let Ok(v) = &verdict {
        assert_eq!(
            module_hash(&bytes).expect("verified bytes hash"),
            seed.hash,
            "an edited component verified with another module hash"
        );
        assert_eq!(
            stripped.as_ref().ok(),
            Some(&seed.stripped),
            "an edited component verified with other stripped bytes"
        );
        let parts = split(&bytes).expect("verified bytes split at the top level");
        assert_eq!(parts.header, seed.header, "verified with another preamble");
        assert_eq!(
            parts.without_custom(JWT_SECTION),
            seed.sections,
            "verified with other sections (independent reader)"
        );
        assert_eq!(v.claims, seed.claims, "verified with other claims");
        assert_eq!(v.issuer, fx.issuer);
    }
    if bytes == seed.signed {
        assert!(verdict.is_ok(), "the untouched seed fails: {verdict:?}");
    }
    // Re-framing alone (moved jwt section, padded sizes) keeps the signature valid.
    let reframed = split(&bytes).is_some_and(|parts| {
        parts.header == seed.header && parts.without_custom(JWT_SECTION) == seed.sections
    });
    if reframed && token == seed.token && script.bytes.is_empty() && one_jwt(script) {
        assert!(verdict.is_ok(), "a re-framed seed fails: {verdict:?}");
    }
}

/// Whether to print each edited component's verdict (`WASMGATE_FUZZ_TRACE=1`), to see what a
/// corpus reaches.
fn tracing() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("WASMGATE_FUZZ_TRACE").is_some())
}

/// Whether the script leaves exactly one `jwt` section.
fn one_jwt(script: &Script) -> bool {
    matches!(script.placement, Placement::Last | Placement::Before(_))
        && !script
            .extra
            .iter()
            .any(|(_, name, _)| matches!(name, ExtraName::Jwt))
}

fn assemble(seed: &Seed, token: &str, script: &Script) -> Vec<u8> {
    let jwt = Section {
        id: 0,
        contents: frame_custom(JWT_SECTION, token.as_bytes()),
    };
    let mut sections = seed.sections.clone();
    let n = sections.len() + 1;
    match script.placement {
        Placement::Last => sections.push(jwt),
        Placement::Before(i) => sections.insert(usize::from(i) % n, jwt),
        Placement::Twice(i) => {
            sections.insert(usize::from(i) % n, jwt.clone());
            sections.push(jwt);
        }
        Placement::Missing => {}
    }
    for (at, name, data) in &script.extra {
        let name = match name {
            ExtraName::Jwt => JWT_SECTION.to_owned(),
            ExtraName::JwtLike(variant) => {
                ["JWT", "jwt ", "jwt\0", " jwt", "jw", "jwtt"][usize::from(*variant) % 6].to_owned()
            }
            ExtraName::Other(name) => name.clone(),
        };
        let at = usize::from(*at) % (sections.len() + 1);
        sections.insert(
            at,
            Section {
                id: 0,
                contents: frame_custom(&name, data),
            },
        );
    }
    let mut out = seed.header.to_vec();
    for (i, section) in sections.iter().enumerate() {
        let padding = match script.padding {
            Some((at, extra)) if usize::from(at) % sections.len().max(1) == i => extra % 8,
            _ => 0,
        };
        frame_section(&mut out, section.id, &section.contents, padding);
    }
    for edit in &script.bytes {
        apply(&mut out, edit);
    }
    out
}

fn apply(out: &mut Vec<u8>, edit: &ByteEdit) {
    let at = |at: u32, len: usize| (at as usize) % len.max(1);
    match *edit {
        ByteEdit::Set { at: i, byte } if !out.is_empty() => {
            let i = at(i, out.len());
            out[i] = byte;
        }
        ByteEdit::Flip { at: i, bit } if !out.is_empty() => {
            let i = at(i, out.len());
            out[i] ^= 1 << (bit % 8);
        }
        ByteEdit::Insert { at: i, ref bytes } => {
            let i = at(i, out.len() + 1);
            out.splice(i..i, bytes.iter().copied());
        }
        ByteEdit::Remove { at: i, len } if !out.is_empty() => {
            let i = at(i, out.len());
            let end = (i + usize::from(len)).min(out.len());
            out.drain(i..end);
        }
        ByteEdit::Truncate { at: i } => {
            let i = at(i, out.len() + 1);
            out.truncate(i);
        }
        _ => {}
    }
}

fn edit_token(token: &str, edits: &[TokenEdit]) -> String {
    let mut text = token.to_owned();
    for edit in edits {
        match edit {
            TokenEdit::Set { at, byte } => {
                let mut bytes = text.into_bytes();
                if !bytes.is_empty() {
                    let i = usize::from(*at) % bytes.len();
                    bytes[i] = *byte;
                }
                text = String::from_utf8_lossy(&bytes).into_owned();
            }
            TokenEdit::Insert { at, text: inserted } => {
                let i = char_boundary(&text, usize::from(*at) % (text.len() + 1));
                text.insert_str(i, inserted);
            }
            TokenEdit::Remove { at, len } => {
                let start = char_boundary(&text, usize::from(*at) % (text.len() + 1));
                let end = char_boundary(&text, (start + usize::from(*len)).min(text.len()));
                text.replace_range(start..end, "");
            }
            TokenEdit::Truncate { at } => {
                let i = char_boundary(&text, usize::from(*at) % (text.len() + 1));
                text.truncate(i);
            }
            TokenEdit::Swap(a, b) => {
                let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
                let (a, b) = (usize::from(*a) % parts.len(), usize::from(*b) % parts.len());
                parts.swap(a, b);
                text = parts.join(".");
            }
            TokenEdit::Part(i, replacement) => {
                let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
                let i = usize::from(*i) % parts.len();
                parts[i] = replacement.clone();
                text = parts.join(".");
            }
            TokenEdit::Header(choice) => {
                let header = match choice {
                    HeaderChoice::AlgNone => r#"{"typ":"JWT","alg":"none"}"#.to_owned(),
                    HeaderChoice::Hs256 => r#"{"typ":"JWT","alg":"HS256"}"#.to_owned(),
                    HeaderChoice::EdDsaWithCrit => {
                        r#"{"typ":"JWT","alg":"EdDSA","crit":["exp"]}"#.to_owned()
                    }
                    HeaderChoice::EdDsaWithKid(kid) => {
                        serde_json::json!({"typ": "JWT", "alg": "EdDSA", "kid": kid}).to_string()
                    }
                    HeaderChoice::Raw(raw) => raw.clone(),
                };
                text = replace_part(&text, 0, &URL_SAFE_NO_PAD.encode(header));
            }
            TokenEdit::Claim(edit) => {
                let Some(payload) = text.split('.').nth(1) else {
                    continue;
                };
                let Ok(json) = URL_SAFE_NO_PAD.decode(payload) else {
                    continue;
                };
                let Ok(mut claims) = serde_json::from_slice::<serde_json::Value>(&json) else {
                    continue;
                };
                // Indexing into anything but an object (or null) panics in serde_json.
                if !claims.is_object() {
                    continue;
                }
                match edit {
                    ClaimEdit::Hash(hash) => {
                        if claims["wasmgate"].is_object() {
                            claims["wasmgate"]["hash"] = hash.as_str().into();
                        }
                    }
                    ClaimEdit::Sub(sub) => claims["sub"] = sub.as_str().into(),
                    ClaimEdit::AddCap(i) => {
                        let cap = Capability::ALL[usize::from(*i) % Capability::ALL.len()];
                        let caps = claims
                            .get_mut("wasmgate")
                            .and_then(|w| w.get_mut("caps"))
                            .and_then(|c| c.as_array_mut());
                        if let Some(caps) = caps {
                            caps.push(cap.as_str().into());
                        }
                    }
                    ClaimEdit::DropExp => {
                        if let Some(map) = claims.as_object_mut() {
                            map.remove("exp");
                        }
                    }
                    ClaimEdit::Exp(exp) => claims["exp"] = (*exp).into(),
                    ClaimEdit::Nbf(nbf) => claims["nbf"] = (*nbf).into(),
                    ClaimEdit::Iss(iss) => claims["iss"] = iss.as_str().into(),
                }
                text = replace_part(&text, 1, &URL_SAFE_NO_PAD.encode(claims.to_string()));
            }
        }
    }
    text
}

fn replace_part(token: &str, index: usize, replacement: &str) -> String {
    let mut parts: Vec<&str> = token.split('.').collect();
    if let Some(part) = parts.get_mut(index) {
        *part = replacement;
    }
    parts.join(".")
}

/// The nearest char boundary at or below `i`.
fn char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
