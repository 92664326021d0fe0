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

/// Checks every `(input, reason)` row: the input is refused, and its message states that reason
/// and the rule. Reports every failing row at once.
fn assert_refused(table: &[(&str, &str)]) {
    let mut failures = Vec::new();
    for (input, expected) in table {
        match FunctionName::try_from((*input).to_owned()) {
            Ok(name) => failures.push(format!("{input:?} was accepted as {name}")),
            Err(e) => {
                let message = e.to_string();
                if e.code() != "invalid_name"
                    || !message.contains(expected)
                    || !message.contains(NAME_RULE)
                {
                    failures.push(format!(
                        "{input:?}: expected {expected:?} and the rule, got {message:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
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
        &format!("a{}9", "-".repeat(61)),
    ] {
        let parsed: FunctionName = name.parse().unwrap();
        assert_eq!(parsed.as_str(), name);
        assert_eq!(parsed.to_string(), name);
    }
}

#[test]
fn path_traversal_and_path_separators_are_refused() {
    assert_refused(&[
        (".", "'.' is not allowed"),
        ("..", "'.' is not allowed"),
        ("../etc", "'.' is not allowed"),
        ("a/../b", "'/' is not allowed"),
        ("a/b", "'/' is not allowed"),
        ("/etc", "'/' is not allowed"),
        ("a\\b", "'\\\\' is not allowed"),
        ("a.b", "'.' is not allowed"),
        ("~root", "'~' is not allowed"),
        ("c:", "':' is not allowed"),
        ("a\0b", "'\\0' is not allowed"),
        ("a*", "'*' is not allowed"),
    ]);
}

#[test]
fn percent_encoded_input_is_refused_as_it_arrives_never_decoded() {
    // The gateway never percent-decodes a name: `%` itself is refused, so no encoding of `.`,
    // `/` or NUL can turn into a path after validation.
    assert_refused(&[
        ("..%2Fetc", "'.' is not allowed"),
        ("a%2Fb", "'%' is not allowed"),
        ("%2e%2e", "'%' is not allowed"),
        ("%2E%2E", "'%' is not allowed"),
        ("a%00", "'%' is not allowed"),
        ("a%252e", "'%' is not allowed"),
        ("a%c0%ae", "'%' is not allowed"),
        ("h%65llo", "'%' is not allowed"),
    ]);
}

#[test]
fn unicode_look_alikes_and_invisible_characters_are_refused_by_code_point() {
    assert_refused(&[
        // Homoglyphs: Cyrillic е and о, Greek ο, dotless ı.
        ("h\u{435}llo", "U+0435"),
        ("f\u{43e}\u{43e}d", "U+043E"),
        ("hell\u{3bf}", "U+03BF"),
        ("f\u{131}le", "U+0131"),
        // Zero-width and invisible: space, non-joiner, joiner, BOM, word joiner, soft hyphen.
        ("hel\u{200b}lo", "U+200B"),
        ("hel\u{200c}lo", "U+200C"),
        ("hel\u{200d}lo", "U+200D"),
        ("\u{feff}hello", "U+FEFF"),
        ("hel\u{2060}lo", "U+2060"),
        ("hel\u{ad}lo", "U+00AD"),
        // Bidi controls that reorder what a terminal or browser shows.
        ("\u{202e}olleh", "U+202E"),
        ("a\u{202d}b", "U+202D"),
        ("a\u{2066}b", "U+2066"),
        ("a\u{200f}b", "U+200F"),
        // Fullwidth forms of letters, digits, '-', '.', '/'.
        ("\u{ff48}ello", "U+FF48"),
        ("a\u{ff11}", "U+FF11"),
        ("a\u{ff0d}b", "U+FF0D"),
        ("\u{ff0e}\u{ff0e}", "U+FF0E"),
        ("a\u{ff0f}b", "U+FF0F"),
        // Combining marks on an allowed letter, and the precomposed form.
        ("he\u{301}llo", "U+0301"),
        ("e\u{308}", "U+0308"),
        ("caf\u{e9}", "U+00E9"),
    ]);
}

#[test]
fn characters_that_nfkc_or_case_mapping_would_turn_into_allowed_ones_are_refused() {
    // Each of these becomes an allowed name (or a '.' or '/') under NFKC or lowercasing, so a
    // validator that normalised first would let two distinct inputs name the same function.
    assert_refused(&[
        ("\u{fb01}le", "U+FB01"),     // ﬁ → fi
        ("\u{212a}ey", "U+212A"),     // Kelvin sign → K → k
        ("ba\u{17f}h", "U+017F"),     // long s → s
        ("a\u{b2}", "U+00B2"),        // superscript two → 2
        ("\u{1d41a}b", "U+1D41A"),    // mathematical bold a → a
        ("\u{24d0}b", "U+24D0"),      // circled a → a
        ("a\u{2024}b", "U+2024"),     // one dot leader → .
        ("a\u{2025}b", "U+2025"),     // two dot leader → ..
        ("a\u{2215}b", "U+2215"),     // division slash, looks like /
        ("a\u{2044}b", "U+2044"),     // fraction slash, looks like /
        ("a\u{2010}b", "U+2010"),     // hyphen, looks like -
        ("a\u{2011}b", "U+2011"),     // non-breaking hyphen → ‐
        ("a\u{2212}b", "U+2212"),     // minus sign, looks like -
        ("a\u{663}", "U+0663"),       // Arabic-Indic three: numeric, but not ASCII
        ("\u{130}stanbul", "U+0130"), // İ lowercases to i + combining dot
    ]);
}

#[test]
fn whitespace_and_control_characters_are_refused() {
    assert_refused(&[
        (" a", "' ' is not allowed"),
        ("a ", "' ' is not allowed"),
        ("a b", "' ' is not allowed"),
        ("a\t", "'\\t' is not allowed"),
        ("fn\n", "'\\n' is not allowed"),
        ("a\r", "'\\r' is not allowed"),
        ("a\u{7f}", "'\\u{7f}' is not allowed"),
        ("a\u{85}", "U+0085"),
        ("a\u{a0}b", "U+00A0"),
        ("a\u{2028}b", "U+2028"),
    ]);
}

#[test]
fn uppercase_is_refused_rather_than_folded() {
    assert_refused(&[
        ("A", "'A' is not allowed"),
        ("Foo", "'F' is not allowed"),
        ("helloW", "'W' is not allowed"),
        ("HELLO", "'H' is not allowed"),
    ]);
}

#[test]
fn empty_names_and_bad_first_or_last_characters_are_refused() {
    assert_refused(&[
        ("", "it is empty"),
        ("-", "it does not start with a letter"),
        ("-abc", "it does not start with a letter"),
        ("1abc", "it does not start with a letter"),
        ("0", "it does not start with a letter"),
        ("abc-", "it ends with '-'"),
        ("a-", "it ends with '-'"),
        ("a--", "it ends with '-'"),
        ("a_b", "'_' is not allowed"),
    ]);
}

#[test]
fn names_over_sixty_three_characters_are_refused_however_long() {
    let long =
        [64, 65, 1_000, 100 * 1024].map(|n| ("a".repeat(n), format!("it is {n} characters long")));
    let mut table: Vec<(&str, &str)> = long.iter().map(|(n, r)| (n.as_str(), r.as_str())).collect();
    // The length is measured on what would be stored, so a trailing '-' is not reported first.
    let dashed = format!("{}-", "a".repeat(63));
    table.push((&dashed, "it is 64 characters long"));
    assert_refused(&table);
}

#[test]
fn a_huge_name_gets_a_short_message() {
    let message = reason(&format!("{}\u{202e}", "a".repeat(100 * 1024)));
    assert!(message.contains("U+202E"), "{message}");
    assert!(message.len() < 400, "{} bytes: {message}", message.len());
}

#[test]
fn no_code_point_outside_lowercase_ascii_letters_digits_and_hyphen_is_accepted() {
    // Exhaustive, so a future change to `char::is_alphanumeric`, case folding or normalisation
    // cannot slip one character through.
    let mut accepted = Vec::new();
    for c in (0..=u32::from(char::MAX)).filter_map(char::from_u32) {
        let mut name = String::from("a");
        name.push(c);
        name.push('b');
        if FunctionName::try_from(name).is_ok() {
            accepted.push(c);
        }
    }
    let expected: Vec<char> = std::iter::once('-')
        .chain('0'..='9')
        .chain('a'..='z')
        .collect();
    assert_eq!(accepted, expected);
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
    for hostile in ["Hello", "../etc", "h\\u0435llo", "a\\u0000"] {
        let err = toml::from_str::<Doc>(&format!("name = \"{hostile}\"")).unwrap_err();
        assert!(err.to_string().contains("is invalid"), "{hostile}: {err}");
    }
}
