//! Media types compared as RFC 9110 §8.3.1 says: `type/subtype` case-insensitive, parameters
//! (`; charset=utf-8`) not part of the comparison.

/// The lowercased `type/subtype` of a `Content-Type` value, without parameters; `None` when it
/// is not a media type.
pub fn essence(content_type: &str) -> Option<String> {
    let parsed: mime::Mime = content_type.trim().parse().ok()?;
    Some(parsed.essence_str().to_ascii_lowercase())
}

/// Whether `content_type` is a JSON media type (`application/json`, `text/json` or any
/// `+json` structured syntax suffix, RFC 6839 §3.1).
pub fn is_json(content_type: &str) -> bool {
    essence(content_type)
        .is_some_and(|e| e == "application/json" || e == "text/json" || e.ends_with("+json"))
}

/// Whether a media type's essence is a CloudEvents one (`application/cloudevents` with a
/// structured syntax suffix, or a batch `application/cloudevents-batch+…`), whether or not this
/// gateway reads that format.
pub fn is_cloudevents(essence: &str) -> bool {
    essence.starts_with("application/cloudevents+")
        || essence.starts_with("application/cloudevents-batch+")
        || essence == "application/cloudevents"
}

/// Whether `content_type` is text a CloudEvents text field may carry: `text/*`, JSON or XML.
pub fn is_text(content_type: &str) -> bool {
    essence(content_type).is_some_and(|e| {
        e.starts_with("text/")
            || e == "application/json"
            || e.ends_with("+json")
            || e == "application/xml"
            || e.ends_with("+xml")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_parameters_do_not_matter() {
        assert_eq!(
            essence("Application/CloudEvents+JSON; charset=utf-8").as_deref(),
            Some("application/cloudevents+json")
        );
        assert_eq!(essence("not a media type"), None);
        assert!(is_json("application/vnd.api+json"));
        assert!(!is_json("application/jsonx"));
        assert!(is_text("Text/Plain;charset=utf-8"));
        assert!(!is_text("application/octet-stream"));
    }
}
