use super::*;

fn refused(route: &str) -> String {
    match route.parse::<Route>() {
        Err(e @ Error::InvalidRoute { .. }) => {
            assert_eq!(e.code(), "invalid_manifest");
            e.to_string()
        }
        other => panic!("{route:?} should be refused, got {other:?}"),
    }
}

#[test]
fn matchit_patterns_are_accepted() {
    for route in [
        "/",
        "/hello",
        "/api/{id}",
        "/api/{id}/",
        "/files/{*rest}",
        "/{*rest}",
        "/images/img-{id}.png",
        "/users/{user_id}/posts/{post_id}",
        "/{{literal}}",
        "/fnord",
        "/functionsx/a",
        "/api/fn",
        "/metrics2",
        "/caf\u{e9}",
    ] {
        assert_eq!(route.parse::<Route>().unwrap().as_str(), route);
    }
}

#[test]
fn gateway_prefixes_are_reserved_by_whole_segment() {
    for route in [
        "/fn",
        "/fn/",
        "/fn/x",
        "/functions",
        "/functions/a",
        "/publish/x",
        "/async/a",
        "/calls/1",
        "/metrics",
        "/healthz",
        "/readyz",
        "/fn/{*rest}",
    ] {
        let message = refused(route);
        assert!(
            message.contains("belongs to the gateway"),
            "{route}: {message}"
        );
    }
}

#[test]
fn malformed_paths_are_refused_with_a_fix() {
    for (route, hint) in [
        ("", "start it with '/'"),
        ("api", "start it with '/'"),
        ("../etc", "start it with '/'"),
        ("/a b", "without spaces"),
        ("/a\tb", "without spaces"),
        ("/a?x=1", "query"),
        ("/a#top", "fragment"),
        ("/{", "unclosed '{'"),
        ("/a}", "unmatched '}'"),
        ("/{}", "name it with letters"),
        ("/{a-b}", "name it with letters"),
        ("/{*}", "name it with letters"),
        ("/{*rest}/more", "whole last segment"),
        ("/x{*rest}", "whole last segment"),
        ("/{a}-{b}", "one per segment"),
    ] {
        let message = refused(route);
        assert!(message.contains(hint), "{route:?}: {message}");
    }
}

#[test]
fn routes_longer_than_the_limit_are_refused() {
    let ok = format!("/{}", "a".repeat(MAX_ROUTE_LEN - 1));
    assert!(ok.parse::<Route>().is_ok());
    let message = refused(&format!("/{}", "a".repeat(MAX_ROUTE_LEN)));
    assert!(message.contains("at most 1024"), "{message}");
}

#[test]
fn a_parameter_directly_followed_by_a_literal_brace_is_refused() {
    // Found by the manifest fuzz target: matchit refuses `{id}{{` and reads `{id}}}` as a
    // parameter named `id}`, so these routes never meant what they say.
    for route in [
        "/{id}{{",
        "/i/{y2}{{{{{{{{{{%",
        "/x/{ab}{{x",
        "/{a}{{",
        "/{id}}}",
        "/}}.{ya}}}{{",
    ] {
        let message = refused(route);
        assert!(message.contains("directly followed"), "{route}: {message}");
    }
    for route in ["/{id}x{{", "/{{{id}", "/{id}.}}", "/{id}.{{png}}"] {
        assert!(route.parse::<Route>().is_ok(), "{route}");
    }
}

#[test]
fn routes_with_more_parameters_than_the_router_takes_are_refused() {
    // Found by the manifest fuzz target: matchit panics on a route with 26 parameters.
    let with = |n: usize| (0..n).map(|i| format!("/{{p{i}}}")).collect::<String>();
    assert!(with(MAX_ROUTE_PARAMS).parse::<Route>().is_ok());
    assert!(
        format!("{}/{{*rest}}", with(MAX_ROUTE_PARAMS - 1))
            .parse::<Route>()
            .is_ok()
    );
    for n in [MAX_ROUTE_PARAMS + 1, 26, 40] {
        let message = refused(&with(n));
        assert!(
            message.contains("parameters; use at most"),
            "{n}: {message}"
        );
    }
}
