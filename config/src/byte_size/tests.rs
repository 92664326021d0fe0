use super::*;

fn bytes(input: &str) -> u64 {
    input
        .parse::<ByteSize>()
        .unwrap_or_else(|e| panic!("{input:?}: {e}"))
        .bytes()
}

fn refused(input: &str) -> String {
    match input.parse::<ByteSize>() {
        Err(e @ Error::InvalidByteSize { .. }) => e.to_string(),
        other => panic!("{input:?} should be refused, got {other:?}"),
    }
}

#[test]
fn binary_decimal_and_plain_sizes_parse() {
    assert_eq!(bytes("64MiB"), 64 << 20);
    assert_eq!(bytes("512KiB"), 512 << 10);
    assert_eq!(bytes("1GiB"), 1 << 30);
    assert_eq!(bytes("2TiB"), 2 << 40);
    assert_eq!(bytes("10MB"), 10_000_000);
    assert_eq!(bytes("4096"), 4096);
    assert_eq!(bytes("4096B"), 4096);
    assert_eq!(bytes("0"), 0);
    assert_eq!(bytes("64 mib"), 64 << 20);
    assert_eq!(bytes(" 1kb "), 1000);
    assert_eq!(bytes("18446744073709551615"), u64::MAX);
}

#[test]
fn fractions_are_exact() {
    assert_eq!(bytes("1.5GiB"), 3 << 29);
    assert_eq!(bytes("0.5KiB"), 512);
    assert_eq!(bytes("2.0MB"), 2_000_000);
    assert!(refused("0.1KiB").contains("not a whole number of bytes"));
    assert!(refused("1.5").contains("not a whole number of bytes"));
}

#[test]
fn malformed_sizes_are_refused_with_the_rule() {
    for input in [
        "",
        " ",
        "MiB",
        "-1MiB",
        "1.",
        ".5MiB",
        "1..5MiB",
        "1.2.3KiB",
        "64M",
        "64 megabytes",
        "1e3",
        "fооd",
    ] {
        let message = refused(input);
        assert!(message.contains("KiB, MiB, GiB"), "{input:?}: {message}");
    }
    assert!(refused("64M").contains("`M` is not a unit"));
}

#[test]
fn sizes_past_u64_are_refused() {
    for input in [
        "16EiB",
        "18446744073709551616",
        "17179869184GiB",
        "99999999999999999999999999999999999999999TB",
    ] {
        let _ = refused(input);
    }
    let _ = refused(&format!("1.{}GiB", "1".repeat(60)));
}

#[test]
fn display_prints_the_shortest_exact_form_and_parses_back() {
    for (size, shown) in [
        (ByteSize::mib(64), "64MiB"),
        (ByteSize::gib(1), "1GiB"),
        (ByteSize::from_bytes(3 << 29), "1536MiB"),
        (ByteSize::from_bytes(10_000_000), "10MB"),
        (ByteSize::from_bytes(4097), "4097B"),
        (ByteSize::from_bytes(0), "0B"),
        (ByteSize::from_bytes(u64::MAX), "18446744073709551615B"),
    ] {
        assert_eq!(size.to_string(), shown);
        assert_eq!(shown.parse::<ByteSize>().unwrap(), size);
    }
}

#[test]
fn constructors_agree_with_parsing() {
    assert_eq!(ByteSize::kib(512), "512KiB".parse().unwrap());
    assert_eq!(ByteSize::gib(u64::MAX).bytes(), u64::MAX);
}

#[test]
fn serde_uses_the_string_form() {
    #[derive(Debug, Deserialize, Serialize)]
    struct Doc {
        memory: ByteSize,
    }
    let doc: Doc = toml::from_str("memory = \"128MiB\"").unwrap();
    assert_eq!(doc.memory, ByteSize::mib(128));
    assert_eq!(toml::to_string(&doc).unwrap(), "memory = \"128MiB\"\n");
    let err = toml::from_str::<Doc>("memory = \"lots\"").unwrap_err();
    assert!(err.to_string().contains("size `lots` is invalid"), "{err}");
}
