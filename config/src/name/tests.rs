use super::*;

fn reason(name: &str) -> String {
    match FunctionName::try_from(name.to_owned()) {
        Err(e @ Error::InvalidName { .. }) => {
            assert_eq!(e.code(), "invalid_name");
            e.to_string()
        }
        other => panic!("{name:?} should be refused, got {other:?}"),
    }
}

#[test]
fn dns_labels_are_accepted() {
    for name in [
        "a",
        "hello",
        "image-resize-2",
        "a1",
        "x-y-z",
        &"a".repeat(63),
    ] {
        let parsed: FunctionName = name.parse().unwrap();
        assert_eq!(parsed.as_str(), name);
        assert_eq!(parsed.to_string(), name);
    }
}

#[test]
fn everything_else_is_refused_with_the_rule_in_the_message() {
    for name in [
        "", "A", "Foo", "../etc", "a/b", "a.b", "a_b", "a b", "1abc", "-abc", "abc-", "fn\n",
    ] {
        let message = reason(name);
        assert!(
            message.contains("use 1-63 lowercase letters, digits and '-'"),
            "{message}"
        );
    }
}

#[test]
fn sixty_four_characters_is_one_too_many() {
    let message = reason(&"a".repeat(64));
    assert!(message.contains("64 characters long"), "{message}");
}

#[test]
fn look_alike_unicode_is_refused_and_named_by_code_point() {
    // Cyrillic 'о' (U+043E) in place of both Latin 'o's.
    let message = reason("f\u{43e}\u{43e}d");
    assert!(message.contains("U+043E"), "{message}");
}

#[test]
fn the_message_names_the_input_and_the_fix() {
    let message = reason("Foo");
    assert!(
        message.starts_with("function name `Foo` is invalid: 'F' is not allowed; use"),
        "{message}"
    );
}

#[test]
fn serde_uses_the_string_form_and_validates() {
    #[derive(Debug, Deserialize, Serialize)]
    struct Doc {
        name: FunctionName,
    }
    let doc: Doc = toml::from_str("name = \"hello\"").unwrap();
    assert_eq!(doc.name.as_str(), "hello");
    assert_eq!(toml::to_string(&doc).unwrap(), "name = \"hello\"\n");
    let err = toml::from_str::<Doc>("name = \"Hello\"").unwrap_err();
    assert!(
        err.to_string().contains("function name `Hello` is invalid"),
        "{err}"
    );
}
