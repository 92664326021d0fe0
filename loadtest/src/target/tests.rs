use super::*;

#[test]
fn a_template_substitutes_the_function_name() {
    let target = Target::parse("http://127.0.0.1:8080/fn/{name}").unwrap();
    assert!(target.has_functions());
    assert_eq!(
        target.uri_for("lt-7").unwrap().to_string(),
        "http://127.0.0.1:8080/fn/lt-7"
    );
    assert_eq!(target.origin(), "http://127.0.0.1:8080");
}

#[test]
fn a_template_may_have_a_path_after_the_name() {
    let target = Target::parse("http://localhost:9/fn/{name}/hello?x=1").unwrap();
    assert_eq!(
        target.uri_for("lt-0").unwrap().to_string(),
        "http://localhost:9/fn/lt-0/hello?x=1"
    );
}

#[test]
fn a_url_without_a_template_is_used_as_given_for_every_name() {
    let target = Target::parse("http://127.0.0.1:8081/").unwrap();
    assert!(!target.has_functions());
    let uris = target.uris(&function_names(3)).unwrap();
    assert!(uris.iter().all(|u| u == "http://127.0.0.1:8081/"));
    assert_eq!(target.origin(), "http://127.0.0.1:8081");
}

#[test]
fn https_and_scheme_less_urls_are_refused_with_a_hint() {
    let err = Target::parse("https://example.com/fn/{name}").unwrap_err();
    assert!(err.to_string().contains("use http://"), "{err}");
    let err = Target::parse("127.0.0.1:8080/fn/{name}").unwrap_err();
    assert!(matches!(err, Error::InvalidUrl { .. }), "{err}");
}

#[test]
fn the_placeholder_is_allowed_once_and_only_in_the_path() {
    assert!(Target::parse("http://{name}:8080/").is_err());
    assert!(Target::parse("http://h:1/{name}/{name}").is_err());
}

#[test]
fn function_names_count_from_zero() {
    assert_eq!(function_names(3), ["lt-0", "lt-1", "lt-2"]);
}
