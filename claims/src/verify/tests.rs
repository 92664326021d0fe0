use super::*;
use crate::fixtures::{
    component_with_module, core_module, empty_component, with_custom, with_token,
};
use crate::{SignOptions, SigningKey, decode_unverified, extract, module_hash, sign, strip};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::collections::BTreeMap;
use std::time::Duration;
use wasmgate_config::Capability;

/// A fixed clock: 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

/// How long the test signatures stay valid.
const VALID_FOR: u64 = 3600;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn options() -> SignOptions {
    SignOptions {
        name: "hello".into(),
        caps: vec![Capability::Keyvalue],
        expires_in: Some(Duration::from_secs(VALID_FOR)),
        version: None,
        tags: vec![],
        allowed_hosts: Default::default(),
        audience: None,
        manifest: None,
    }
}

fn signed_by(key: &SigningKey, component: &[u8]) -> Vec<u8> {
    sign(component, key, &options(), at(NOW)).unwrap()
}

fn token_of(signed: &[u8]) -> String {
    extract(signed).unwrap().unwrap()
}

/// The token with its payload JSON edited and its header and signature kept.
fn edit_payload(token: &str, edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut json: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    edit(&mut json);
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&json).unwrap());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

/// `component` carrying `token` in place of its own signature.
fn resigned(component: &[u8], token: &str) -> Vec<u8> {
    with_token(&strip(component).unwrap(), token)
}

fn refusal(component: &[u8], trusted: &[IssuerKey], now: u64) -> Error {
    match verify(component, trusted, at(now)) {
        Err(e) => e,
        Ok(v) => panic!("should be refused, verified {v:?}"),
    }
}

#[test]
fn a_signed_component_verifies_with_its_claims() {
    let key = SigningKey::generate();
    let input = component_with_module(200, None);
    let signed = signed_by(&key, &input);
    let trusted = [SigningKey::generate().issuer(), key.issuer()];
    let verified = verify(&signed, &trusted, at(NOW)).unwrap();
    assert_eq!(verified.issuer, key.issuer());
    assert_eq!(verified.token, token_of(&signed));
    assert_eq!(verified.claims, decode_unverified(&verified.token).unwrap());
    assert_eq!(verified.claims.iss, key.issuer().to_string());
    assert_eq!(verified.claims.sub, "hello");
    assert_eq!(verified.claims.exp, Some(NOW + VALID_FOR));
    assert_eq!(verified.claims.wasmgate.caps, [Capability::Keyvalue]);
    assert_eq!(verified.claims.wasmgate.hash, module_hash(&input).unwrap());
}

#[test]
fn core_modules_and_components_with_nested_jwt_sections_verify_too() {
    let key = SigningKey::generate();
    for input in [
        core_module(10),
        component_with_module(10, Some("nested.not.mine")),
    ] {
        verify(&signed_by(&key, &input), &[key.issuer()], at(NOW)).unwrap();
    }
}

#[test]
fn bytes_that_are_not_webassembly_are_invalid_components() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &empty_component());
    for bad in [
        &b"PK\x03\x04"[..],
        &signed[..signed.len() - 1],
        &signed[1..],
    ] {
        let err = refusal(bad, &[key.issuer()], NOW);
        assert!(matches!(err, Error::InvalidComponent { .. }), "{err:?}");
        assert_eq!(err.code(), "invalid_component");
    }
}

#[test]
fn a_component_without_a_jwt_section_is_unsigned() {
    let key = SigningKey::generate();
    for trusted in [&[key.issuer()][..], &[]] {
        let err = refusal(
            &component_with_module(5, Some("nested.is.ignored")),
            trusted,
            NOW,
        );
        assert!(matches!(err, Error::Unsigned), "{err:?}");
        assert_eq!(err.code(), "unsigned");
    }
}

#[test]
fn tokens_that_cannot_be_read_are_malformed() {
    let key = SigningKey::generate();
    let good = token_of(&signed_by(&key, &empty_component()));
    let (header, rest) = good.split_once('.').unwrap();
    let (payload, signature) = rest.split_once('.').unwrap();
    let hs256 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &decode_unverified(&good).unwrap(),
        &jsonwebtoken::EncodingKey::from_secret(key.issuer().as_bytes()),
    )
    .unwrap();
    // Same signature length as Ed25519, so only the header tells them apart.
    let es256 = format!(
        "{}.{payload}.{signature}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"ES256","typ":"JWT"}"#)
    );
    let crit = format!(
        "{}.{payload}.{signature}",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA","typ":"JWT","crit":["exp"]}"#)
    );
    let cases: BTreeMap<&str, String> = [
        ("not a token", "not a token".to_owned()),
        ("two parts", format!("{header}.{payload}")),
        ("four parts", format!("{good}.{signature}")),
        ("header not base64", format!("!!.{payload}.{signature}")),
        (
            "payload not json",
            format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode("{")),
        ),
        (
            "short signature",
            format!("{header}.{payload}.{}", &signature[..40]),
        ),
        ("hmac algorithm", hs256),
        ("ecdsa algorithm", es256),
        ("crit header", crit),
        (
            "no wasmgate claims",
            edit_payload(&good, |c| {
                drop(c.as_object_mut().unwrap().remove("wasmgate"))
            }),
        ),
        (
            "iat as text",
            edit_payload(&good, |c| c["iat"] = "yesterday".into()),
        ),
        (
            "unknown capability",
            edit_payload(&good, |c| {
                c["wasmgate"]["caps"] = serde_json::json!(["root"])
            }),
        ),
        (
            "iss not a key",
            edit_payload(&good, |c| c["iss"] = "alice".into()),
        ),
    ]
    .into_iter()
    .collect();
    for (case, token) in cases {
        let err = refusal(&resigned(&empty_component(), &token), &[key.issuer()], NOW);
        assert!(matches!(err, Error::Malformed { .. }), "{case}: {err:?}");
        assert_eq!(err.code(), "bad_signature", "{case}");
    }
}

#[test]
fn two_jwt_sections_or_one_that_is_not_utf8_are_malformed() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &core_module(4));
    let twice = with_token(&signed, &token_of(&signed));
    let not_utf8 = with_custom(&core_module(4), "jwt", b"\xffey.x.y");
    for bad in [twice, not_utf8] {
        let err = refusal(&bad, &[key.issuer()], NOW);
        assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        assert_eq!(err.code(), "bad_signature");
    }
}

#[test]
fn an_issuer_outside_the_trusted_set_is_refused_before_anything_else_is_checked() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &component_with_module(8, None));
    // Tampered, expired and carrying a forged payload: the issuer is still what is reported.
    let forged = edit_payload(&token_of(&signed), |c| c["sub"] = "other".into());
    let bad = resigned(&component_with_module(9, None), &forged);
    for component in [&signed, &bad] {
        let err = refusal(
            component,
            &[SigningKey::generate().issuer()],
            NOW + 10 * VALID_FOR,
        );
        assert!(
            matches!(err, Error::UntrustedIssuer { issuer } if issuer == key.issuer()),
            "{err:?}"
        );
        assert_eq!(err.code(), "untrusted_issuer");
        assert!(err.to_string().contains(&key.issuer().to_string()), "{err}");
    }
}

#[test]
fn trusting_nobody_says_how_to_trust_a_key() {
    let signed = signed_by(&SigningKey::generate(), &empty_component());
    let err = refusal(&signed, &[], NOW);
    assert!(matches!(err, Error::NoTrustedIssuers), "{err:?}");
    assert_eq!(err.code(), "untrusted_issuer");
    let message = err.to_string();
    assert!(
        message.contains("wasmgate serve --trust PUBKEY"),
        "{message}"
    );
    assert!(message.contains("WASMGATE_TRUSTED_ISSUERS"), "{message}");
}

#[test]
fn a_token_claiming_another_issuer_has_a_bad_signature() {
    let attacker = SigningKey::generate();
    let victim = SigningKey::generate().issuer();
    let input = component_with_module(16, None);
    let token = token_of(&signed_by(&attacker, &input));
    let claimed = edit_payload(&token, |c| c["iss"] = victim.to_string().into());
    let err = refusal(&resigned(&input, &claimed), &[victim], NOW);
    assert!(matches!(err, Error::BadSignature), "{err:?}");
    assert_eq!(err.code(), "bad_signature");
}

#[test]
fn edited_claims_or_signature_bytes_have_a_bad_signature() {
    let key = SigningKey::generate();
    let input = component_with_module(16, None);
    let token = token_of(&signed_by(&key, &input));
    let more_caps = edit_payload(&token, |c| {
        c["wasmgate"]["caps"] = serde_json::json!(["keyvalue", "sockets"]);
    });
    let later = edit_payload(&token, |c| c["exp"] = (NOW + 100 * VALID_FOR).into());
    let mut flipped = token.clone().into_bytes();
    let middle = token.len() - 20;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for forged in [more_caps, later, flipped] {
        let err = refusal(&resigned(&input, &forged), &[key.issuer()], NOW);
        assert!(matches!(err, Error::BadSignature), "{err:?}");
        assert_eq!(err.code(), "bad_signature");
    }
}

#[test]
fn a_valid_token_on_other_bytes_is_tampered() {
    let key = SigningKey::generate();
    let original = component_with_module(32, None);
    let swapped = component_with_module(33, None);
    let moved = resigned(&swapped, &token_of(&signed_by(&key, &original)));
    let err = refusal(&moved, &[key.issuer()], NOW);
    let expected = module_hash(&original).unwrap();
    let actual = module_hash(&swapped).unwrap();
    assert!(
        matches!(&err, Error::Tampered { expected: e, actual: a } if *e == expected && *a == actual),
        "{err:?}"
    );
    assert_eq!(err.code(), "module_tampered");
}

#[test]
fn a_custom_section_added_after_signing_is_tampering() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &core_module(8));
    let decorated = with_custom(&signed, "producers", b"\x00");
    let err = refusal(&decorated, &[key.issuer()], NOW);
    assert_eq!(err.code(), "module_tampered", "{err:?}");
}

#[test]
fn a_signature_expires_on_the_second() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &empty_component());
    verify(&signed, &[key.issuer()], at(NOW + VALID_FOR - 1)).unwrap();
    for now in [NOW + VALID_FOR, NOW + VALID_FOR + 1, u64::MAX / 2] {
        let err = refusal(&signed, &[key.issuer()], now);
        assert!(
            matches!(err, Error::Expired { exp } if exp == NOW + VALID_FOR),
            "{err:?}"
        );
        assert_eq!(err.code(), "expired");
    }
}

#[test]
fn a_signature_without_expiry_never_expires() {
    let key = SigningKey::generate();
    let opts = SignOptions {
        expires_in: None,
        ..options()
    };
    let signed = sign(&empty_component(), &key, &opts, at(NOW)).unwrap();
    verify(&signed, &[key.issuer()], at(NOW + 100 * 365 * 24 * 3600)).unwrap();
}

#[test]
fn a_signature_from_the_future_is_accepted_only_within_the_clock_skew_leeway() {
    let key = SigningKey::generate();
    let signed = signed_by(&key, &empty_component());
    verify(&signed, &[key.issuer()], at(NOW - NBF_LEEWAY_SECS)).unwrap();
    for now in [NOW - NBF_LEEWAY_SECS - 1, NOW - 3600, 0] {
        let err = refusal(&signed, &[key.issuer()], now);
        assert!(
            matches!(err, Error::NotYetValid { nbf } if nbf == NOW),
            "{err:?}"
        );
        assert_eq!(err.code(), "not_yet_valid");
    }
}

#[test]
fn flipping_any_byte_outside_the_jwt_section_is_caught() {
    let key = SigningKey::generate();
    let trusted = [key.issuer()];
    let input = component_with_module(420, Some("nested"));
    let signed = signed_by(&key, &input);
    verify(&signed, &trusted, at(NOW)).unwrap();
    // Signing appends the one jwt section, so everything before it is what the hash covers.
    let covered = strip(&signed).unwrap().len();
    assert_eq!(covered, input.len());
    assert!(covered > 500, "{covered} bytes is too few to mean much");
    let mut caught: BTreeMap<&str, usize> = BTreeMap::new();
    for offset in 0..covered {
        for mask in [0x01, 0x80] {
            let mut tampered = signed.clone();
            tampered[offset] ^= mask;
            match verify(&tampered, &trusted, at(NOW)) {
                Ok(_) => panic!("flipping bit mask {mask:#04x} at offset {offset} went unnoticed"),
                Err(e) => *caught.entry(e.code()).or_default() += 1,
            }
        }
    }
    // Both defences take part: the parser for structure, the hash for content.
    assert!(
        caught.get("module_tampered").is_some_and(|n| *n > covered),
        "{caught:?}"
    );
    assert!(caught.contains_key("invalid_component"), "{caught:?}");
}
