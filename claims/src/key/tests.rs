use super::*;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::pkcs8::{
    EncodePublicKey as _, ObjectIdentifier, PrivateKeyInfo, SecretDocument,
};

/// The algorithm identifier of Ed25519 keys (RFC 8410).
const ED25519_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

fn refusal(input: &str) -> String {
    match input.parse::<IssuerKey>() {
        Err(e @ Error::InvalidIssuerKey { .. }) => {
            assert_eq!(e.code(), "invalid_issuer_key");
            e.to_string()
        }
        other => panic!("{input:?} should be refused, got {other:?}"),
    }
}

#[test]
fn a_key_survives_a_pem_round_trip() {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem().unwrap();
    let again = SigningKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(again.issuer(), key.issuer());
    assert_eq!(again.0.to_bytes(), key.0.to_bytes());
}

#[test]
fn the_pem_is_a_standard_pkcs8_ed25519_private_key() {
    let key = SigningKey::generate();
    let pem = key.to_pkcs8_pem().unwrap();
    assert!(
        pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
        "{}",
        pem.as_str()
    );
    assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
    let (label, der) = SecretDocument::from_pem(&pem).unwrap();
    assert_eq!(label, "PRIVATE KEY");
    let info = PrivateKeyInfo::try_from(der.as_bytes()).unwrap();
    assert_eq!(info.algorithm.oid, ED25519_OID);
    // The JWT library reads the same file, so keys interoperate with other JWT tooling.
    jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
}

#[test]
fn a_pem_with_surrounding_whitespace_is_accepted() {
    let key = SigningKey::generate();
    let pem = format!("\n{}\n\n", key.to_pkcs8_pem().unwrap().as_str());
    assert_eq!(
        SigningKey::from_pkcs8_pem(&pem).unwrap().issuer(),
        key.issuer()
    );
}

#[test]
fn anything_but_a_private_key_pem_is_refused() {
    let public = SigningKey::generate()
        .0
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    for text in [
        "",
        "not a key",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        &public,
    ] {
        let err = SigningKey::from_pkcs8_pem(text).unwrap_err();
        assert_eq!(err.code(), "invalid_key", "{text:?}");
        assert!(err.to_string().contains("PRIVATE KEY"), "{err}");
    }
}

#[test]
fn debug_output_shows_the_issuer_and_never_the_secret() {
    let key = SigningKey::generate();
    let shown = format!("{key:?}");
    let secret = key.0.to_bytes();
    assert!(shown.contains(&key.issuer().to_string()), "{shown}");
    for encoded in [
        hex::encode(secret),
        URL_SAFE_NO_PAD.encode(secret),
        STANDARD.encode(secret),
        format!("{secret:?}"),
    ] {
        assert!(!shown.contains(&encoded), "{shown}");
    }
    let pem = key.to_pkcs8_pem().unwrap();
    let body = pem.lines().nth(1).unwrap();
    assert!(!shown.contains(body), "{shown}");
}

#[test]
fn issuer_keys_round_trip_through_text_and_serde() {
    let issuer = SigningKey::generate().issuer();
    let text = issuer.to_string();
    assert_eq!(text.len(), 43);
    assert!(!text.contains(['=', '+', '/']), "{text}");
    assert_eq!(text.parse::<IssuerKey>().unwrap(), issuer);
    assert_eq!(URL_SAFE_NO_PAD.decode(&text).unwrap(), issuer.as_bytes());
    let json = serde_json::to_string(&issuer).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<IssuerKey>(&json).unwrap(), issuer);
    assert!(serde_json::from_str::<IssuerKey>("\"nope\"").is_err());
    assert_eq!(format!("{issuer:?}"), format!("IssuerKey({text})"));
}

#[test]
fn text_outside_the_base64url_alphabet_is_refused() {
    let text = SigningKey::generate().issuer().to_string();
    let standard = format!("{}+", &text[..42]);
    assert!(refusal(&standard).contains("not base64url"));
    let padded = format!("{text}=");
    assert!(refusal(&padded).contains("not base64url"));
    assert!(refusal("").contains("wrong length"));
    assert!(refusal(" x").contains("not base64url"));
}

#[test]
fn text_of_the_wrong_length_is_refused() {
    let text = SigningKey::generate().issuer().to_string();
    for bad in [&text[..42], &format!("{text}A"), "abc"] {
        let message = refusal(bad);
        assert!(
            message.contains("wrong length") && message.contains("43"),
            "{message}"
        );
    }
}

#[test]
fn text_with_stray_trailing_bits_is_refused() {
    // 43 characters carry 258 bits; the last two must be zero for exactly one text per key.
    let text = SigningKey::generate().issuer().to_string();
    let last = text.as_bytes()[42];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.iter().position(|c| *c == last).unwrap();
    let odd = char::from(alphabet[index ^ 1]);
    let message = refusal(&format!("{}{odd}", &text[..42]));
    assert!(message.contains("not base64url"), "{message}");
}

#[test]
fn bytes_off_the_curve_are_refused() {
    let off_curve = (0u8..=255)
        .map(|b| [b; 32])
        .find(|bytes| ed25519_dalek::VerifyingKey::from_bytes(bytes).is_err())
        .unwrap();
    let message = refusal(&URL_SAFE_NO_PAD.encode(off_curve));
    assert!(
        message.contains("not a valid Ed25519 curve point"),
        "{message}"
    );
}

#[test]
fn weak_small_order_points_are_refused() {
    // The identity point: every signature "verifies" under it with a non-strict check.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let message = refusal(&URL_SAFE_NO_PAD.encode(identity));
    assert!(message.contains("weak"), "{message}");
}

#[test]
fn long_input_is_shortened_in_the_message() {
    let message = refusal(&"A".repeat(500));
    assert!(message.len() < 250, "{message}");
    assert!(message.contains('…'), "{message}");
}

#[test]
fn a_detached_signature_verifies_only_for_its_key_and_its_message() {
    let key = SigningKey::generate();
    let other = SigningKey::generate();
    let signature = key.sign_detached(b"artifact digest");
    assert_eq!(signature.len(), 86, "64 bytes in unpadded base64url");
    assert!(key.issuer().verifies(b"artifact digest", &signature));
    assert!(!key.issuer().verifies(b"artifact digesT", &signature));
    assert!(!other.issuer().verifies(b"artifact digest", &signature));
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert!(!key.issuer().verifies(b"artifact digest", &flipped));
    for unreadable in ["", "not base64!", &signature[..40]] {
        assert!(!key.issuer().verifies(b"artifact digest", unreadable));
    }
}
