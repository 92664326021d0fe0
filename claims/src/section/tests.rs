use super::*;
use crate::fixtures::{
    component_with_import_and_export, component_with_module, core_module, empty_component,
    validates, with_custom, with_token,
};

fn unsigned_inputs() -> Vec<Vec<u8>> {
    vec![
        empty_component(),
        core_module(40),
        component_with_module(300, None),
        component_with_module(10, Some("nested, not a token")),
        component_with_import_and_export(),
    ]
}

#[test]
fn the_fixtures_are_valid_webassembly() {
    for input in unsigned_inputs() {
        assert!(validates(&input));
    }
}

#[test]
fn stripping_unsigned_input_changes_no_byte() {
    for input in unsigned_inputs() {
        assert_eq!(strip(&input).unwrap(), input);
    }
}

#[test]
fn stripping_removes_every_top_level_jwt_section_and_keeps_other_custom_sections() {
    let base = component_with_module(50, None);
    let with_name = with_custom(&base, "name", b"\x00\x01x");
    let signed_twice = with_token(&with_token(&with_name, "a.b.c"), "d.e.f");
    let decorated = with_custom(&signed_twice, "producers", b"\x00");
    let expected = with_custom(&with_name, "producers", b"\x00");
    assert_eq!(strip(&decorated).unwrap(), expected);
    assert!(validates(&decorated));
}

#[test]
fn a_jwt_section_inside_a_nested_module_is_content_not_a_signature() {
    let input = component_with_module(10, Some("nested.jwt.text"));
    assert_eq!(extract(&input).unwrap(), None);
    assert_eq!(strip(&input).unwrap(), input);
    let signed = with_token(&input, "top.level.token");
    assert_eq!(
        extract(&signed).unwrap().as_deref(),
        Some("top.level.token")
    );
    assert_eq!(strip(&signed).unwrap(), input);
}

#[test]
fn extract_finds_the_one_top_level_token() {
    let input = core_module(8);
    assert_eq!(extract(&input).unwrap(), None);
    let signed = with_token(&input, "h.p.s");
    assert_eq!(extract(&signed).unwrap().as_deref(), Some("h.p.s"));
    // Another custom section that merely starts with the same letters does not count.
    let other = with_custom(&input, "jwtx", b"h.p.s");
    assert_eq!(extract(&other).unwrap(), None);
}

#[test]
fn two_jwt_sections_are_malformed() {
    let twice = with_token(&with_token(&empty_component(), "a.b.c"), "a.b.c");
    let err = extract(&twice).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert_eq!(err.code(), "bad_signature");
    assert!(err.to_string().contains("2 `jwt` sections"), "{err}");
}

#[test]
fn a_jwt_section_that_is_not_utf8_is_malformed() {
    let input = with_custom(&empty_component(), JWT_SECTION, &[0x61, 0xff, 0x62]);
    let err = extract(&input).unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

#[test]
fn the_hash_is_lowercase_hex_sha256_of_the_stripped_bytes() {
    let input = component_with_module(20, None);
    let hash = module_hash(&input).unwrap();
    assert_eq!(hash, hex::encode(Sha256::digest(&input)));
    assert_eq!(hash.len(), 64);
    assert!(
        hash.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{hash}"
    );
    assert_eq!(module_hash(&with_token(&input, "x.y.z")).unwrap(), hash);
    assert_ne!(module_hash(&component_with_module(21, None)).unwrap(), hash);
}

#[test]
fn bytes_that_are_not_webassembly_are_refused() {
    let component = component_with_module(20, None);
    for bad in [
        &b""[..],
        b"hello world",
        b"\0asm",
        b"\0asm\x02\0\0\0",
        &component[..component.len() - 1],
        &[&component[..], &[0x00, 0x05, 0x01]].concat(),
    ] {
        for result in [
            strip(bad).map(drop),
            extract(bad).map(drop),
            module_hash(bad).map(drop),
        ] {
            let err = result.unwrap_err();
            assert!(
                matches!(err, Error::InvalidComponent { .. }),
                "{bad:?}: {err:?}"
            );
            assert_eq!(err.code(), "invalid_component");
        }
    }
}
