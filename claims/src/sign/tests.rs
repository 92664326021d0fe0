use super::*;
use crate::fixtures::{component_with_module, core_module, empty_component, validates};
use crate::{decode_unverified, extract, module_hash, strip};
use wasmgate_config::HostPattern;

/// A fixed clock: 2026-01-01T00:00:00Z.
const NOW: u64 = 1_767_225_600;

fn at(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

fn options() -> SignOptions {
    SignOptions {
        name: "hello".into(),
        caps: vec![
            Capability::Messaging,
            Capability::Keyvalue,
            Capability::Messaging,
        ],
        expires_in: Some(Duration::from_secs(3600)),
        version: Some("1.2.3".into()),
        tags: vec!["blue".into()],
        allowed_hosts: Default::default(),
        audience: None,
        manifest: None,
    }
}

fn jwt_sections(bytes: &[u8]) -> usize {
    section::top_level(bytes)
        .filter(|p| matches!(p, Ok(wasmparser::Payload::CustomSection(c)) if c.name() == "jwt"))
        .count()
}

#[test]
fn signing_records_who_what_and_when() {
    let key = SigningKey::generate();
    let input = component_with_module(100, None);
    let signed = sign(&input, &key, &options(), at(NOW)).unwrap();
    let claims = decode_unverified(&extract(&signed).unwrap().unwrap()).unwrap();
    assert_eq!(claims.iss, key.issuer().to_string());
    assert_eq!(claims.sub, "hello");
    assert_eq!(
        (claims.iat, claims.nbf, claims.exp),
        (NOW, NOW, Some(NOW + 3600))
    );
    assert_eq!(claims.wasmgate.hash, module_hash(&input).unwrap());
    assert_eq!(
        claims.wasmgate.caps,
        [Capability::Keyvalue, Capability::Messaging],
        "sorted, without duplicates"
    );
    assert_eq!(claims.wasmgate.version.as_deref(), Some("1.2.3"));
    assert_eq!(claims.wasmgate.tags, ["blue"]);
    let jti = uuid::Uuid::parse_str(&claims.jti).unwrap();
    assert_eq!(jti.get_version_num(), 4);
}

#[test]
fn the_token_is_a_standard_eddsa_jwt() {
    let key = SigningKey::generate();
    let signed = sign(&empty_component(), &key, &options(), at(NOW)).unwrap();
    let token = extract(&signed).unwrap().unwrap();
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let payload = token.split('.').nth(1).unwrap();
    let json: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["wasmgate"]["caps"],
        serde_json::json!(["keyvalue", "messaging"])
    );
    assert_eq!(json["exp"], NOW + 3600);
}

#[test]
fn the_signature_is_appended_and_everything_else_is_kept() {
    let key = SigningKey::generate();
    for input in [
        empty_component(),
        core_module(30),
        component_with_module(30, Some("x")),
    ] {
        let signed = sign(&input, &key, &options(), at(NOW)).unwrap();
        assert!(
            signed.starts_with(&input),
            "the original bytes come first, unchanged"
        );
        assert_eq!(strip(&signed).unwrap(), input);
        assert_eq!(jwt_sections(&signed), 1);
        assert!(validates(&signed));
    }
}

#[test]
fn signing_again_replaces_the_signature() {
    let input = component_with_module(64, None);
    let first = sign(&input, &SigningKey::generate(), &options(), at(NOW)).unwrap();
    let other_key = SigningKey::generate();
    let opts = SignOptions {
        name: "renamed".into(),
        ..options()
    };
    let second = sign(&first, &other_key, &opts, at(NOW + 10)).unwrap();
    assert_eq!(jwt_sections(&second), 1);
    assert_eq!(strip(&second).unwrap(), input);
    let claims = decode_unverified(&extract(&second).unwrap().unwrap()).unwrap();
    assert_eq!(claims.sub, "renamed");
    assert_eq!(claims.iss, other_key.issuer().to_string());
    assert_eq!(claims.iat, NOW + 10);
    assert_eq!(claims.wasmgate.hash, module_hash(&input).unwrap());
    assert_eq!(module_hash(&second).unwrap(), module_hash(&first).unwrap());
}

#[test]
fn no_expiry_means_no_exp_claim() {
    let opts = SignOptions {
        expires_in: None,
        tags: vec![],
        version: None,
        ..options()
    };
    let signed = sign(&empty_component(), &SigningKey::generate(), &opts, at(NOW)).unwrap();
    let token = extract(&signed).unwrap().unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let json = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    for absent in ["exp", "version", "tags"] {
        assert!(!json.contains(&format!("\"{absent}\"")), "{json}");
    }
    assert_eq!(decode_unverified(&token).unwrap().exp, None);
}

#[test]
fn an_empty_name_is_refused() {
    let opts = SignOptions {
        name: String::new(),
        ..options()
    };
    let err = sign(&empty_component(), &SigningKey::generate(), &opts, at(NOW)).unwrap_err();
    assert_eq!(err.code(), "invalid_sign_options");
}

#[test]
fn an_expiry_beyond_the_clock_is_refused() {
    let opts = SignOptions {
        expires_in: Some(Duration::from_secs(u64::MAX)),
        ..options()
    };
    let err = sign(&empty_component(), &SigningKey::generate(), &opts, at(NOW)).unwrap_err();
    assert_eq!(err.code(), "invalid_sign_options");
}

#[test]
fn input_that_is_not_webassembly_is_refused() {
    let err = sign(b"#!/bin/sh\n", &SigningKey::generate(), &options(), at(NOW)).unwrap_err();
    assert!(matches!(err, Error::InvalidComponent { .. }), "{err:?}");
    assert_eq!(err.code(), "invalid_component");
}

#[test]
fn host_lists_are_signed_per_capability_and_read_back() {
    let key = SigningKey::generate();
    let hosts: Vec<HostPattern> = ["api.example.com", "*.svc.example.com:8443"]
        .iter()
        .map(|h| h.parse().unwrap())
        .collect();
    let opts = SignOptions {
        caps: vec![Capability::HttpOutgoing, Capability::Sockets],
        allowed_hosts: [
            (Capability::HttpOutgoing, hosts.clone()),
            (
                Capability::Sockets,
                vec!["10.1.0.0/16:5432".parse().unwrap()],
            ),
        ]
        .into(),
        ..options()
    };
    let signed = sign(&empty_component(), &key, &opts, at(NOW)).unwrap();
    let token = extract(&signed).unwrap().unwrap();
    let claims = decode_unverified(&token).unwrap();
    assert_eq!(
        claims.wasmgate.allowed_hosts[&Capability::HttpOutgoing],
        hosts
    );
    assert_eq!(
        claims.wasmgate.allowed_hosts[&Capability::Sockets][0].to_string(),
        "10.1.0.0/16:5432"
    );
    let payload = serde_json::to_value(&claims).unwrap();
    assert_eq!(
        payload["wasmgate"]["allowed_hosts"]["http-outgoing"],
        serde_json::json!(["api.example.com", "*.svc.example.com:8443"])
    );
}

#[test]
fn host_lists_for_capabilities_not_granted_or_unable_to_use_them_are_refused() {
    let key = SigningKey::generate();
    let ungranted = SignOptions {
        caps: vec![Capability::Keyvalue],
        allowed_hosts: [(Capability::HttpOutgoing, vec!["a.example".parse().unwrap()])].into(),
        ..options()
    };
    let e = sign(&empty_component(), &key, &ungranted, at(NOW)).unwrap_err();
    assert_eq!(e.code(), "invalid_sign_options");
    assert!(e.to_string().contains("--cap http-outgoing"), "{e}");
    let names_for_sockets = SignOptions {
        caps: vec![Capability::Sockets],
        allowed_hosts: [(Capability::Sockets, vec!["db.internal".parse().unwrap()])].into(),
        ..options()
    };
    let e = sign(&empty_component(), &key, &names_for_sockets, at(NOW)).unwrap_err();
    assert!(e.to_string().contains("CIDR"), "{e}");
}

#[test]
fn the_manifest_and_audience_are_signed_into_the_claims() {
    let key = SigningKey::generate();
    let manifest = b"[[triggers]]\nsubject = \"orders.>\"\n".to_vec();
    let opts = SignOptions {
        audience: Some("prod-eu".into()),
        manifest: Some(manifest.clone()),
        ..options()
    };
    let signed = sign(&empty_component(), &key, &opts, at(NOW)).unwrap();
    let claims = crate::verify(&signed, &[key.issuer()], at(NOW))
        .unwrap()
        .claims;
    assert_eq!(claims.aud.as_deref(), Some("prod-eu"));
    assert_eq!(
        claims.wasmgate.manifest.as_deref(),
        Some(section::sha256_hex(&manifest).as_str())
    );
    let empty = SignOptions {
        audience: Some(String::new()),
        ..options()
    };
    let err = sign(&empty_component(), &key, &empty, at(NOW)).unwrap_err();
    assert_eq!(err.code(), "invalid_sign_options");
}
